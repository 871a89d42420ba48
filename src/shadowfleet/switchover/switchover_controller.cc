#include "shadowfleet/switchover/switchover_controller.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

#include "shadowfleet/common/logging.h"
#include "shadowfleet/common/parallel.h"
#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/shadow/readiness.h"

namespace shadowfleet {

// Everything one step of one switchover works with.
struct SwitchoverController::Step {
  SwitchoverRecord next;
  int64_t revision = 0;
  Cached<InstanceRecord> instance;
  Cached<ShadowRecord> shadow;
  std::shared_ptr<const GroupSpec> group;
  std::shared_ptr<Router> router;
  ReplicaMetricsSource* source = nullptr;
  absl::Time now;
  SwitchoverPassStats* stats = nullptr;
};

namespace {

std::shared_ptr<spdlog::logger> Log() {
  static auto logger = Logger("switchover");
  return logger;
}

Backend BackendOf(const Replica& replica) {
  return {replica.id, replica.endpoint};
}

// One sample: the change in a replica's counters between two reads, if it served anything.
void AddSample(const std::optional<ReplicaCounters>& before, const ReplicaCounters& after,
               ReplicaSamples* samples) {
  if (!before) {
    return;
  }
  double requests = after.requests - before->requests;
  double errors = after.errors - before->errors;
  double latency_sum = after.latency_sum - before->latency_sum;
  double latency_count = after.latency_count - before->latency_count;
  if (requests <= 0 || errors < 0 || latency_count <= 0 || latency_sum < 0) {
    return;  // No traffic in the interval, or the replica restarted (counters reset).
  }
  samples->error_rates.push_back(errors / requests);
  samples->latencies.push_back(latency_sum / latency_count);
  samples->requests += static_cast<int64_t>(requests);
  samples->errors += static_cast<int64_t>(errors);
}

}  // namespace

SwitchoverController::SwitchoverController(FleetState* state, ProviderSet* providers,
                                           RouterFor routers, MetricsFor metrics_sources,
                                           Clock* clock, Metrics* metrics,
                                           SwitchoverControllerOptions options)
    : state_(state),
      providers_(providers),
      routers_(std::move(routers)),
      metrics_sources_(std::move(metrics_sources)),
      clock_(clock),
      metrics_(metrics),
      options_(options) {
  state_->Watch(kSwitchoverObject, [this](const ObjectRecord& r) { OnStoredChange(r); });
}

void SwitchoverController::OnStoredChange(const ObjectRecord& record) {
  if (record.deleted) {
    absl::MutexLock lock(&mu_);
    switchovers_.erase(record.name);
    return;
  }
  {
    // Most changes seen here are this controller's own writes, already in the cache.
    absl::MutexLock lock(&mu_);
    auto it = switchovers_.find(record.name);
    if (it != switchovers_.end() && it->second.revision >= record.revision) {
      return;
    }
  }
  nlohmann::json j = nlohmann::json::parse(record.value, nullptr, /*allow_exceptions=*/false);
  absl::StatusOr<SwitchoverRecord> parsed = SwitchoverRecord::FromJson(j);
  if (!parsed.ok()) {
    Log()->warn("skipping unreadable switchover id={} error={}", record.name,
                parsed.status().ToString());
    return;
  }
  absl::MutexLock lock(&mu_);
  Entry& entry = switchovers_[record.name];
  if (entry.revision < record.revision) {
    entry = {*std::move(parsed), record.revision};
    IndexLocked(entry.record);
  }
}

void SwitchoverController::IndexLocked(const SwitchoverRecord& record) {
  auto it = active_by_instance_.find(record.instance_id);
  if (IsTerminal(record.phase)) {
    if (it != active_by_instance_.end() && it->second == record.id) {
      active_by_instance_.erase(it);
    }
  } else {
    active_by_instance_[record.instance_id] = record.id;
  }
}

absl::StatusOr<SwitchoverRecord> SwitchoverController::Start(const SwitchoverRequest& request) {
  Cached<InstanceRecord> instance = state_->Instance(request.instance_id);
  if (!instance || instance->removed) {
    return absl::NotFoundError(absl::StrCat("no instance \"", request.instance_id, "\""));
  }
  std::shared_ptr<const GroupSpec> group = state_->Group(instance->group);
  if (group == nullptr) {
    return absl::FailedPreconditionError(request.instance_id + " has no group spec");
  }
  if (std::optional<SwitchoverRecord> active = ActiveFor(request.instance_id)) {
    return absl::FailedPreconditionError(absl::StrCat(request.instance_id,
                                                      " already has switchover ", active->id, " (",
                                                      SwitchoverPhaseName(active->phase), ")"));
  }
  absl::Time now = clock_->Now();
  SwitchoverRecord record;
  record.id = absl::StrCat(request.instance_id, "-", absl::ToUnixMillis(now));
  record.instance_id = request.instance_id;
  record.group = instance->group;
  record.trigger = request.trigger;
  record.requested_by = request.actor;
  record.reason = request.reason;
  record.decision = request.decision;
  record.strategy = request.strategy.value_or(group->switchover.strategy);
  record.phase = SwitchoverPhase::kPending;
  record.created_at = now;
  record.phase_since = now;
  StateBatch batch;
  batch.PutObject(kSwitchoverObject, record.id, record.ToJson().dump(), kMustNotExist);
  batch.AddEvent({0, absl::ToUnixMillis(now), "switchover.requested", record.instance_id,
                  request.actor,
                  absl::StrCat("switchover ", record.id, " requested (",
                               SwitchoverTriggerName(record.trigger), "): ", request.reason),
                  record.decision.dump()});
  SF_ASSIGN_OR_RETURN(int64_t revision, state_->Commit(batch));
  {
    absl::MutexLock lock(&mu_);
    priority_[record.id] = request.priority;
    Entry& entry = switchovers_[record.id];
    if (entry.revision < revision) {
      entry = {record, revision};
      IndexLocked(record);
    }
  }
  Log()->info("switchover requested switchover={} instance={} trigger={} actor={}", record.id,
              record.instance_id, SwitchoverTriggerName(record.trigger), request.actor);
  return record;
}

absl::StatusOr<SwitchoverRecord> SwitchoverController::Act(const std::string& id,
                                                           OperatorAction action,
                                                           const std::string& actor,
                                                           const std::string& reason) {
  Entry entry;
  {
    absl::MutexLock lock(&mu_);
    auto it = switchovers_.find(id);
    if (it == switchovers_.end()) {
      return absl::NotFoundError(absl::StrCat("no switchover \"", id, "\""));
    }
    entry = it->second;
  }
  if (IsTerminal(entry.record.phase)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "switchover ", id, " has ended (", SwitchoverPhaseName(entry.record.phase), ")"));
  }
  SwitchoverRecord next = entry.record;
  next.requested_action = action;
  next.action_actor = actor;
  next.action_reason = reason;
  StateBatch batch;
  batch.PutObject(kSwitchoverObject, id, next.ToJson().dump(), entry.revision);
  batch.AddEvent({0, absl::ToUnixMillis(clock_->Now()),
                  absl::StrCat("switchover.operator.", OperatorActionName(action)),
                  next.instance_id, actor,
                  absl::StrCat(OperatorActionName(action), " requested: ", reason), "{}"});
  SF_ASSIGN_OR_RETURN(int64_t revision, state_->Commit(batch));
  {
    absl::MutexLock lock(&mu_);
    Entry& cached = switchovers_[id];
    if (cached.revision < revision) {
      cached = {next, revision};
    }
  }
  Log()->info("operator action switchover={} action={} actor={} reason={}", id,
              OperatorActionName(action), actor, reason);
  return next;
}

std::vector<SwitchoverRecord> SwitchoverController::List(bool active_only) const {
  absl::MutexLock lock(&mu_);
  std::vector<SwitchoverRecord> out;
  for (const auto& [id, entry] : switchovers_) {
    if (!active_only || !IsTerminal(entry.record.phase)) {
      out.push_back(entry.record);
    }
  }
  return out;
}

std::optional<SwitchoverRecord> SwitchoverController::Get(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = switchovers_.find(id);
  if (it == switchovers_.end()) {
    return std::nullopt;
  }
  return it->second.record;
}

std::optional<SwitchoverRecord> SwitchoverController::ActiveFor(
    const std::string& instance_id) const {
  absl::MutexLock lock(&mu_);
  auto it = active_by_instance_.find(instance_id);
  if (it == active_by_instance_.end()) {
    return std::nullopt;
  }
  auto entry = switchovers_.find(it->second);
  if (entry == switchovers_.end() || IsTerminal(entry->second.record.phase)) {
    return std::nullopt;
  }
  return entry->second.record;
}

SwitchoverController::Window SwitchoverController::GetWindow(const std::string& id) {
  absl::MutexLock lock(&mu_);
  return windows_[id];
}

void SwitchoverController::PutWindow(const std::string& id, const Window& window) {
  absl::MutexLock lock(&mu_);
  windows_[id] = window;
}

void SwitchoverController::StartFailovers() {
  for (const std::string& id : state_->InstanceIds()) {
    Cached<InstanceRecord> instance = state_->Instance(id);
    // A live replica that crashed or keeps failing its health checks has failed: its shadow
    // takes over without a canary (there is nothing healthy to compare with).
    bool failed = instance && (instance->live_phase == LivePhase::kLost ||
                               instance->live_phase == LivePhase::kUnhealthy);
    if (!instance || instance->removed || !failed || !instance->active_switchover.empty() ||
        ActiveFor(id)) {
      continue;
    }
    std::shared_ptr<const GroupSpec> group = state_->Group(instance->group);
    if (group == nullptr || !group->switchover.automatic) {
      continue;
    }
    SwitchoverRequest request{
        id, SwitchoverTrigger::kFailover, "switchover-controller",
        absl::StrCat("live replica ", absl::AsciiStrToLower(LivePhaseName(instance->live_phase)),
                     ": ", instance->live_error)};
    request.priority = 2;  // Ahead of any predicted failure.
    absl::StatusOr<SwitchoverRecord> started = Start(request);
    if (!started.ok()) {
      Log()->warn("failover could not start instance={} error={}", id, started.status().ToString());
    }
  }
}

SwitchoverPassStats SwitchoverController::ReconcileAll() {
  absl::Time start = absl::Now();
  SwitchoverPassStats stats;
  StartFailovers();
  // Pending ones are admitted in priority order, then age; the others in any order.
  std::vector<std::pair<std::string, bool>> ids;  // (id, pending)
  std::vector<std::tuple<double, absl::Time, std::string>> pending;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, entry] : switchovers_) {
      if (IsTerminal(entry.record.phase)) {
        continue;
      }
      if (entry.record.phase == SwitchoverPhase::kPending) {
        pending.emplace_back(-priority_[id], entry.record.created_at, id);
      } else {
        ids.emplace_back(id, false);
      }
    }
  }
  std::sort(pending.begin(), pending.end());
  stats.active = static_cast<int>(ids.size() + pending.size());

  std::vector<SwitchoverPassStats> per_item(ids.size());
  ParallelFor(ids.size(), options_.workers, [&](size_t i) {
    if (!Reconcile(ids[i].first, nullptr, &per_item[i]).ok()) {
      per_item[i].errors++;
    }
  });
  std::map<std::string, GroupBudget> budgets;
  if (!pending.empty()) {
    for (const SwitchoverRecord& sw : List(/*active_only=*/true)) {
      budgets[sw.group].active += sw.phase != SwitchoverPhase::kPending;
    }
    for (const std::string& id : state_->InstanceIds()) {
      Cached<InstanceRecord> instance = state_->Instance(id);
      if (!instance || instance->removed) {
        continue;
      }
      GroupBudget& budget = budgets[instance->group];
      budget.total++;
      budget.healthy +=
          instance->live_phase == LivePhase::kRunning && instance->active_switchover.empty();
    }
  }
  for (const auto& [priority, created, id] : pending) {
    if (!Reconcile(id, &budgets, &stats).ok()) {
      stats.errors++;
    }
  }
  for (const SwitchoverPassStats& s : per_item) {
    stats.transitions += s.transitions;
    stats.completed += s.completed;
    stats.rolled_back += s.rolled_back;
    stats.errors += s.errors;
  }
  ReconcileTraffic();
  stats.duration = absl::Now() - start;
  if (metrics_ != nullptr) {
    metrics_->PassDuration("switchover").Observe(absl::ToDoubleSeconds(stats.duration));
  }
  return stats;
}

absl::Status SwitchoverController::Reconcile(const std::string& id,
                                             std::map<std::string, GroupBudget>* budgets,
                                             SwitchoverPassStats* stats) {
  Step step;
  step.stats = stats;
  step.now = clock_->Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = switchovers_.find(id);
    if (it == switchovers_.end()) {
      return absl::OkStatus();
    }
    step.next = it->second.record;
    step.revision = it->second.revision;
  }
  SwitchoverRecord& sw = step.next;
  step.instance = state_->Instance(sw.instance_id);
  step.shadow = state_->Shadow(sw.instance_id);
  if (!step.instance) {
    sw.outcome = "the instance no longer exists";
    sw.phase = SwitchoverPhase::kRolledBack;
    StateBatch batch;
    return Save(step, batch, "switchover.rolled_back", sw.outcome);
  }
  step.group = state_->GroupOf(*step.instance);
  if (step.group == nullptr) {
    return absl::FailedPreconditionError(sw.instance_id + " has no group spec");
  }
  SF_ASSIGN_OR_RETURN(step.router, routers_(*step.group));
  step.source = metrics_sources_(*step.group);

  // Operator actions and the progress deadline come before the phase's own work.
  if (sw.requested_action && sw.phase != SwitchoverPhase::kPending &&
      sw.phase != SwitchoverPhase::kRetiring && sw.phase != SwitchoverPhase::kRollingBack) {
    OperatorAction action = *sw.requested_action;
    std::string why =
        absl::StrCat(OperatorActionName(action), " by ", sw.action_actor, ": ", sw.action_reason);
    sw.requested_action.reset();
    if (action == OperatorAction::kAbort) {
      return BeginRollback(step, why);
    }
    if (action == OperatorAction::kPromote &&
        (sw.phase == SwitchoverPhase::kStepping || sw.phase == SwitchoverPhase::kPaused)) {
      return Promote(step, why);
    }
    if (action == OperatorAction::kPause && sw.phase == SwitchoverPhase::kStepping) {
      sw.phase = SwitchoverPhase::kPaused;
      sw.phase_since = step.now;
      StateBatch batch;
      return Save(step, batch, "switchover.paused", why);
    }
    if (action == OperatorAction::kResume && sw.phase == SwitchoverPhase::kPaused) {
      sw.phase = SwitchoverPhase::kStepping;
      sw.phase_since = step.now;
      sw.step_started_at = step.now;
      PutWindow(sw.id, Window{});
      StateBatch batch;
      return Save(step, batch, "switchover.resumed", why);
    }
    StateBatch batch;  // An action that does not apply in this phase is dropped, recorded.
    return Save(step, batch, "switchover.operator.ignored",
                absl::StrCat(why, " (not applicable while ", SwitchoverPhaseName(sw.phase), ")"));
  }
  if (step.now > sw.deadline &&
      (sw.phase == SwitchoverPhase::kPreparing || sw.phase == SwitchoverPhase::kStepping)) {
    return BeginRollback(
        step,
        absl::StrCat("progress deadline of ",
                     absl::FormatDuration(step.group->switchover.progress_deadline), " passed"));
  }

  switch (sw.phase) {
    case SwitchoverPhase::kPending:
      return budgets != nullptr ? Admit(step, &(*budgets)[sw.group]) : absl::OkStatus();
    case SwitchoverPhase::kPreparing:
      return Prepare(step);
    case SwitchoverPhase::kStepping:
      return Advance(step);
    case SwitchoverPhase::kPaused:
      return ApplyWeights(step, sw.weight);
    case SwitchoverPhase::kBaking:
      return Bake(step);
    case SwitchoverPhase::kRetiring:
      return Retire(step);
    case SwitchoverPhase::kRollingBack:
      return RollBack(step);
    case SwitchoverPhase::kComplete:
    case SwitchoverPhase::kRolledBack:
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status SwitchoverController::Save(Step& step, StateBatch& batch, const std::string& event,
                                        const std::string& message, const nlohmann::json& details) {
  SwitchoverRecord& sw = step.next;
  std::string value = sw.ToJson().dump();
  batch.PutObject(kSwitchoverObject, sw.id, value, step.revision);
  if (!event.empty()) {
    nlohmann::json d = details.is_null() ? nlohmann::json{{"switchover", sw.id},
                                                          {"phase", SwitchoverPhaseName(sw.phase)},
                                                          {"weight", sw.weight}}
                                         : details;
    batch.AddEvent({0, absl::ToUnixMillis(step.now), event, sw.instance_id, "switchover-controller",
                    absl::StrCat(sw.id, ": ", message), d.dump()});
  }
  SF_ASSIGN_OR_RETURN(step.revision, state_->Commit(batch));
  {
    absl::MutexLock lock(&mu_);
    Entry& entry = switchovers_[sw.id];
    if (entry.revision < step.revision) {
      entry = {sw, step.revision};
      IndexLocked(sw);
    }
  }
  if (!event.empty() && step.stats != nullptr) {
    step.stats->transitions++;
  }
  return absl::OkStatus();
}

absl::Status SwitchoverController::Admit(Step& step, GroupBudget* budget) {
  SwitchoverRecord& sw = step.next;
  const SwitchoverSpec& policy = step.group->switchover;
  if (sw.trigger != SwitchoverTrigger::kFailover) {
    // The disruption budget: concurrent switchovers and the healthy share of the group. One
    // switchover may always run, or a small group could never be refreshed.
    int in_flight = budget->active + budget->admitted;
    double share_after = budget->total == 0
                             ? 0
                             : static_cast<double>(budget->healthy - budget->admitted - 1) /
                                   static_cast<double>(budget->total);
    if (in_flight >= policy.max_concurrent ||
        (budget->total > 1 && share_after < policy.min_healthy_share - 1e-9 && in_flight > 0)) {
      return absl::OkStatus();  // Waits for the budget.
    }
  }
  budget->admitted++;
  sw.phase = SwitchoverPhase::kPreparing;
  sw.phase_since = step.now;
  sw.deadline = step.now + policy.progress_deadline;
  StateBatch batch;
  return Save(step, batch, "switchover.preparing",
              "admitted; waiting for the shadow to be ready at live's version");
}

absl::Status SwitchoverController::Prepare(Step& step) {
  SwitchoverRecord& sw = step.next;
  const InstanceRecord& instance = *step.instance;
  if (!instance.live || !step.shadow || !step.shadow->replica) {
    return absl::OkStatus();
  }
  std::optional<Readiness> readiness =
      ComputeInstanceReadiness(*state_, sw.instance_id, step.now, nullptr);
  bool ready = readiness && readiness->ready && step.shadow->version == instance.live_version;
  if (!ready) {
    return absl::OkStatus();  // The Shadow Fleet Manager is still bringing it up.
  }
  bool failover = sw.trigger == SwitchoverTrigger::kFailover ||
                  instance.live_phase == LivePhase::kLost ||
                  instance.live_phase == LivePhase::kUnhealthy;
  const SwitchoverSpec& policy = step.group->switchover;
  sw.old_replica = instance.live;
  sw.new_replica = step.shadow->replica;
  sw.version = instance.live_version;
  sw.step = 1;
  sw.step_started_at = step.now;
  sw.phase_since = step.now;
  if (failover) {
    // Live is gone: nothing to compare with and nothing to fall back to.
    sw.weight = 100;
    sw.phase = SwitchoverPhase::kBaking;
    sw.bake_until = step.now;
  } else {
    sw.weight = sw.strategy == SwitchoverSpec::Strategy::kBlueGreen ? policy.preview_weight
                                                                    : policy.initial_weight;
    sw.phase = SwitchoverPhase::kStepping;
  }
  // Take the pair from the live and shadow managers, in the same transaction; the shadow's
  // record is written back unchanged so that a concurrent change to it aborts this.
  InstanceRecord locked = instance;
  locked.active_switchover = sw.id;
  StateBatch batch;
  batch.PutInstance(locked, step.instance.revision);
  batch.PutShadow(*step.shadow, step.shadow.revision);
  SF_RETURN_IF_ERROR(Save(
      step, batch, failover ? "switchover.failover" : "switchover.stepping",
      failover ? absl::StrCat("live lost; ", sw.new_replica->id, " takes 100 % at once")
               : absl::StrCat("canary step 1: ", sw.new_replica->id, " at ", sw.weight, " %")));
  Log()->info("switchover started switchover={} instance={} old={} new={} weight={}", sw.id,
              sw.instance_id, sw.old_replica->id, sw.new_replica->id, sw.weight);
  PutWindow(sw.id, Window{});
  return ApplyWeights(step, sw.weight);
}

absl::Status SwitchoverController::ApplyWeights(Step& step, int new_weight) {
  SwitchoverRecord& sw = step.next;
  if (!sw.old_replica || !sw.new_replica) {
    return absl::OkStatus();
  }
  Window window = GetWindow(sw.id);
  if (window.applied_weight == new_weight) {
    return absl::OkStatus();
  }
  Backend old_backend = BackendOf(*sw.old_replica);
  Backend new_backend = BackendOf(*sw.new_replica);
  // The weight that grows is set first (or, when the router's state is unknown after a
  // restart, the larger one), so the pair never sums to less than it does before and after.
  bool new_first =
      window.applied_weight >= 0 ? new_weight >= window.applied_weight : new_weight >= 50;
  std::vector<std::pair<Backend, int>> weights;
  if (new_first) {
    weights = {{new_backend, new_weight}, {old_backend, 100 - new_weight}};
  } else {
    weights = {{old_backend, 100 - new_weight}, {new_backend, new_weight}};
  }
  for (const auto& [backend, weight] : weights) {
    // Adds the backend to the pool if the load balancer does not have it yet.
    SF_RETURN_IF_ERROR(step.router->Ensure(backend, weight));
  }
  absl::Status set = step.router->SetWeights(weights);
  if (!set.ok()) {
    Log()->warn("setting weights failed switchover={} weight={} error={}", sw.id, new_weight,
                set.ToString());
    return set;
  }
  window.applied_weight = new_weight;
  PutWindow(sw.id, window);
  if (metrics_ != nullptr) {
    metrics_->SwitchoverWeight(sw.instance_id).Set(new_weight);
  }
  return absl::OkStatus();
}

void SwitchoverController::Sample(Step& step, bool old_too) {
  SwitchoverRecord& sw = step.next;
  Window window = GetWindow(sw.id);
  if (window.step != sw.step) {
    int applied = window.applied_weight;
    window = Window{};
    window.step = sw.step;
    window.applied_weight = applied;
  }
  if (step.now - window.last_read < step.group->switchover.sample_interval ||
      step.source == nullptr) {
    return;
  }
  window.last_read = step.now;
  const SwitchoverSpec& policy = step.group->switchover;
  absl::StatusOr<ReplicaCounters> fresh_new = step.source->Read(*sw.new_replica, policy);
  if (fresh_new.ok()) {
    AddSample(window.new_last, *fresh_new, &window.new_samples);
    window.new_last = *fresh_new;
  }
  if (old_too) {
    absl::StatusOr<ReplicaCounters> fresh_old = step.source->Read(*sw.old_replica, policy);
    if (fresh_old.ok()) {
      AddSample(window.old_last, *fresh_old, &window.old_samples);
      window.old_last = *fresh_old;
    }
  }
  PutWindow(sw.id, window);
}

absl::Status SwitchoverController::Advance(Step& step) {
  SwitchoverRecord& sw = step.next;
  const SwitchoverSpec& policy = step.group->switchover;
  SF_RETURN_IF_ERROR(ApplyWeights(step, sw.weight));
  if (step.instance->live_phase == LivePhase::kLost ||
      step.instance->live_phase == LivePhase::kUnhealthy) {
    return Promote(step,
                   absl::StrCat("the old replica became ",
                                absl::AsciiStrToLower(LivePhaseName(step.instance->live_phase)),
                                " during the canary"));
  }
  Sample(step, /*old_too=*/true);
  absl::Duration step_length = sw.strategy == SwitchoverSpec::Strategy::kBlueGreen
                                   ? policy.preview_duration
                                   : policy.step_interval;
  if (step.now - sw.step_started_at < step_length) {
    return absl::OkStatus();
  }

  Window window = GetWindow(sw.id);
  Judgement judgement = JudgeCanary(window.old_samples, window.new_samples, policy);
  sw.judgements.push_back({sw.step, sw.weight, step.now, judgement});
  nlohmann::json details = judgement.ToJson();
  details["switchover"] = sw.id;
  details["step"] = sw.step;
  details["weight"] = sw.weight;
  Log()->info("canary judgement switchover={} step={} weight={} verdict={} reason={}", sw.id,
              sw.step, sw.weight, VerdictName(judgement.verdict), judgement.reason);
  if (metrics_ != nullptr) {
    metrics_->SwitchoverStepSeconds().Observe(absl::ToDoubleSeconds(step.now - sw.step_started_at));
  }
  PutWindow(
      sw.id,
      Window{-1, absl::InfinitePast(), std::nullopt, std::nullopt, {}, {}, window.applied_weight});

  bool failed = judgement.verdict == Verdict::kFail ||
                (judgement.verdict == Verdict::kInconclusive &&
                 policy.on_inconclusive == SwitchoverSpec::OnInconclusive::kFail);
  if (judgement.verdict == Verdict::kInconclusive &&
      policy.on_inconclusive == SwitchoverSpec::OnInconclusive::kPause) {
    sw.phase = SwitchoverPhase::kPaused;
    sw.phase_since = step.now;
    StateBatch batch;
    return Save(step, batch, "switchover.paused",
                "judgement inconclusive, waiting for an operator: " + judgement.reason, details);
  }
  if (failed) {
    sw.failed_judgements++;
    if (sw.failed_judgements >= policy.max_failed_judgements) {
      StateBatch batch;
      SF_RETURN_IF_ERROR(Save(step, batch, "switchover.judgement",
                              absl::StrCat("step ", sw.step, " at ", sw.weight, " %: ",
                                           VerdictName(judgement.verdict), ": ", judgement.reason),
                              details));
      return BeginRollback(step, judgement.reason);
    }
    sw.step_started_at = step.now;  // Judge the same step again.
    StateBatch batch;
    return Save(step, batch, "switchover.judgement",
                absl::StrCat("step ", sw.step, " failed (", sw.failed_judgements, " of ",
                             policy.max_failed_judgements, "): ", judgement.reason),
                details);
  }
  // Passed: the next step, or full weight.
  int next_weight = sw.strategy == SwitchoverSpec::Strategy::kBlueGreen
                        ? 100
                        : std::min(100, sw.weight + policy.step_weight);
  if (next_weight >= 100) {
    // Full weight is not a canary step: there is nothing left to compare with, so the new
    // replica is promoted and judged alone while it bakes.
    StateBatch batch;
    SF_RETURN_IF_ERROR(Save(step, batch, "switchover.judgement",
                            absl::StrCat("passed: ", judgement.reason), details));
    return Promote(step, "every canary step passed");
  }
  sw.step++;
  sw.weight = next_weight;
  sw.step_started_at = step.now;
  StateBatch batch;
  SF_RETURN_IF_ERROR(
      Save(step, batch, "switchover.judgement",
           absl::StrCat("passed: ", judgement.reason, "; step ", sw.step, " at ", sw.weight, " %"),
           details));
  return ApplyWeights(step, sw.weight);
}

absl::Status SwitchoverController::Promote(Step& step, const std::string& why) {
  SwitchoverRecord& sw = step.next;
  sw.weight = 100;
  sw.phase = SwitchoverPhase::kBaking;
  sw.phase_since = step.now;
  sw.step_started_at = step.now;
  sw.bake_until = step.now + step.group->switchover.bake_time;
  StateBatch batch;
  SF_RETURN_IF_ERROR(
      Save(step, batch, "switchover.promoted",
           absl::StrCat(sw.new_replica ? sw.new_replica->id : "", " at 100 %: ", why)));
  Log()->info("switchover promoted switchover={} instance={} reason={}", sw.id, sw.instance_id,
              why);
  return ApplyWeights(step, 100);
}

absl::Status SwitchoverController::Bake(Step& step) {
  SwitchoverRecord& sw = step.next;
  SF_RETURN_IF_ERROR(ApplyWeights(step, 100));
  bool old_lost = step.instance->live_phase == LivePhase::kLost ||
                  step.instance->live_phase == LivePhase::kUnhealthy;
  Sample(step, /*old_too=*/false);
  if (step.now < sw.bake_until && !old_lost) {
    return absl::OkStatus();
  }
  if (!old_lost) {
    Window window = GetWindow(sw.id);
    Judgement judgement = JudgeAlone(window.new_samples, step.group->switchover);
    sw.judgements.push_back({sw.step, 100, step.now, judgement});
    if (judgement.verdict == Verdict::kFail) {
      return BeginRollback(step, "failed during bake: " + judgement.reason);
    }
  }
  // The new replica becomes live, in one transaction with the switchover's own state; the
  // Shadow Fleet Manager then builds a fresh shadow.
  InstanceRecord instance = *step.instance;
  instance.live = sw.new_replica;
  instance.live_version = sw.version;
  instance.live_phase = LivePhase::kRunning;
  instance.live_error.clear();
  instance.live_health_failures = 0;
  instance.last_refreshed = step.now;
  ShadowRecord shadow = step.shadow ? *step.shadow : ShadowRecord{};
  shadow.instance_id = sw.instance_id;
  shadow.replica.reset();
  shadow.phase = ShadowPhase::kPending;
  shadow.phase_since = step.now;
  shadow.version = 0;
  shadow.target_version = 0;
  shadow.failures = 0;
  shadow.last_error.clear();
  sw.phase = SwitchoverPhase::kRetiring;
  sw.phase_since = step.now;
  StateBatch batch;
  batch.PutInstance(instance, step.instance.revision);
  batch.PutShadow(shadow, step.shadow ? step.shadow.revision : kMustNotExist);
  SF_RETURN_IF_ERROR(
      Save(step, batch, "switchover.retiring",
           absl::StrCat(sw.new_replica->id, " is live; retiring ", sw.old_replica->id)));
  step.instance = state_->Instance(sw.instance_id);
  return Retire(step);
}

absl::Status SwitchoverController::Retire(Step& step) {
  SwitchoverRecord& sw = step.next;
  if (sw.old_replica) {
    Backend old_backend = BackendOf(*sw.old_replica);
    SF_RETURN_IF_ERROR(
        step.router->SetWeights({{BackendOf(*sw.new_replica), 100}, {old_backend, 0}}));
    SF_RETURN_IF_ERROR(step.router->Drain(old_backend));
    SF_RETURN_IF_ERROR(step.router->Remove(old_backend));
    SF_ASSIGN_OR_RETURN(std::shared_ptr<Provider> provider, providers_->For(*step.group));
    SF_RETURN_IF_ERROR(provider->Terminate(*sw.old_replica));
  }
  InstanceRecord instance = *step.instance;
  instance.active_switchover.clear();
  sw.phase = SwitchoverPhase::kComplete;
  sw.phase_since = step.now;
  sw.outcome = "completed: " + (sw.new_replica ? sw.new_replica->id : std::string()) +
               " serves the instance";
  StateBatch batch;
  batch.PutInstance(instance, step.instance.revision);
  SF_RETURN_IF_ERROR(Save(step, batch, "switchover.completed", sw.outcome));
  if (step.stats != nullptr) {
    step.stats->completed++;
  }
  if (metrics_ != nullptr) {
    metrics_->Switchovers("completed").Increment();
    metrics_->SwitchoverWeight(sw.instance_id).Set(0);
  }
  Log()->info("switchover complete switchover={} instance={} live={}", sw.id, sw.instance_id,
              sw.new_replica ? sw.new_replica->id : "");
  return absl::OkStatus();
}

absl::Status SwitchoverController::BeginRollback(Step& step, const std::string& why) {
  SwitchoverRecord& sw = step.next;
  if (step.instance &&
      (step.instance->live_phase == LivePhase::kLost ||
       step.instance->live_phase == LivePhase::kUnhealthy) &&
      sw.phase != SwitchoverPhase::kPreparing && sw.phase != SwitchoverPhase::kPending) {
    // Rolling back to a dead replica would leave the instance with no working traffic.
    return Promote(step, "rollback impossible, the old replica has failed (" + why + ")");
  }
  sw.outcome = why;
  sw.phase_since = step.now;
  if (sw.phase == SwitchoverPhase::kPending || sw.phase == SwitchoverPhase::kPreparing) {
    // No traffic has moved: nothing to undo.
    sw.phase = SwitchoverPhase::kRolledBack;
    StateBatch batch;
    if (step.instance && step.instance->active_switchover == sw.id) {
      InstanceRecord instance = *step.instance;
      instance.active_switchover.clear();
      batch.PutInstance(instance, step.instance.revision);
    }
    SF_RETURN_IF_ERROR(Save(step, batch, "switchover.cancelled", why));
    if (metrics_ != nullptr) {
      metrics_->Switchovers("cancelled").Increment();
    }
    return absl::OkStatus();
  }
  sw.phase = SwitchoverPhase::kRollingBack;
  StateBatch batch;
  SF_RETURN_IF_ERROR(Save(step, batch, "switchover.rolling_back", why));
  Log()->warn("switchover rolling back switchover={} instance={} reason={}", sw.id, sw.instance_id,
              why);
  return RollBack(step);
}

absl::Status SwitchoverController::RollBack(Step& step) {
  SwitchoverRecord& sw = step.next;
  SF_RETURN_IF_ERROR(ApplyWeights(step, 0));
  InstanceRecord instance = *step.instance;
  instance.active_switchover.clear();
  sw.phase = SwitchoverPhase::kRolledBack;
  sw.phase_since = step.now;
  sw.weight = 0;
  StateBatch batch;
  batch.PutInstance(instance, step.instance.revision);
  SF_RETURN_IF_ERROR(Save(step, batch, "switchover.rolled_back",
                          absl::StrCat("traffic back on ", sw.old_replica->id, ": ", sw.outcome)));
  if (step.stats != nullptr) {
    step.stats->rolled_back++;
  }
  if (metrics_ != nullptr) {
    metrics_->Switchovers("rolled_back").Increment();
    metrics_->SwitchoverWeight(sw.instance_id).Set(0);
  }
  return absl::OkStatus();
}

void SwitchoverController::ReconcileTraffic() {
  absl::Time now = clock_->Now();
  for (const std::string& id : state_->InstanceIds()) {
    Cached<InstanceRecord> instance = state_->Instance(id);
    if (!instance || instance->removed || !instance->active_switchover.empty() || !instance->live ||
        instance->live->endpoint.empty()) {
      continue;
    }
    std::shared_ptr<const GroupSpec> group = state_->Group(instance->group);
    if (group == nullptr || group->router.name == "none") {
      continue;
    }
    Cached<ShadowRecord> shadow = state_->Shadow(id);
    std::string shadow_name = shadow && shadow->replica && shadow->phase == ShadowPhase::kReady &&
                                      !shadow->replica->endpoint.empty()
                                  ? shadow->replica->id
                                  : "";
    Traffic previous;
    {
      absl::MutexLock lock(&mu_);
      previous = traffic_[id];
    }
    if (previous.live == instance->live->id && previous.shadow == shadow_name &&
        now - previous.at < options_.traffic_refresh) {
      continue;
    }
    absl::StatusOr<std::shared_ptr<Router>> router = routers_(*group);
    if (!router.ok()) {
      continue;
    }
    absl::Status status = (*router)->Ensure(BackendOf(*instance->live), 100);
    if (status.ok() && !shadow_name.empty()) {
      // The shadow sits in the pool at weight 0: health-checked, ready to take traffic.
      status = (*router)->Ensure(BackendOf(*shadow->replica), 0);
    }
    if (status.ok() && !previous.shadow.empty() && previous.shadow != shadow_name &&
        previous.shadow != instance->live->id) {
      status = (*router)->Remove({previous.shadow, ""});
    }
    if (!status.ok()) {
      Log()->warn("router update failed instance={} error={}", id, status.ToString());
      continue;
    }
    absl::MutexLock lock(&mu_);
    traffic_[id] = {instance->live->id, shadow_name, now};
  }
}

}  // namespace shadowfleet

#include "shadowfleet/fleet/live_manager.h"

#include <functional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

#include "shadowfleet/common/logging.h"
#include "shadowfleet/common/parallel.h"
#include "shadowfleet/common/status_macros.h"

namespace shadowfleet {

struct LiveManager::Step {
  std::string id;
  Cached<InstanceRecord> instance;
  int64_t revision = 0;
  std::shared_ptr<const GroupSpec> group;
  Cached<StoredFleet> fleet;
  std::shared_ptr<Provider> provider;
  std::optional<VersionHead> head;
  absl::Time now;
  LivePassStats* stats = nullptr;
};

namespace {

std::shared_ptr<spdlog::logger> Log() {
  static auto logger = Logger("live");
  return logger;
}

constexpr size_t kInstanceBatch = 1000;

}  // namespace

nlohmann::json ApplyPatchTolerantly(const nlohmann::json& document, const nlohmann::json& patch) {
  nlohmann::json out = document;
  for (const nlohmann::json& op : patch) {
    try {
      out = out.patch(nlohmann::json::array({op}));
      continue;
    } catch (const nlohmann::json::exception&) {
      // Falls through to the lenient forms below.
    }
    std::string kind = op.value("op", "");
    if (kind == "replace" || kind == "add") {
      nlohmann::json as_add = op;
      as_add["op"] = "add";
      try {
        out = out.patch(nlohmann::json::array({as_add}));
      } catch (const nlohmann::json::exception&) {
        // The parent no longer exists in this instance's document; the change does not apply.
      }
    }
  }
  return out;
}

LiveManager::LiveManager(FleetState* state, Ledger* ledger, ProviderSet* providers, Clock* clock,
                         Metrics* metrics, LiveManagerOptions options)
    : state_(state),
      ledger_(ledger),
      providers_(providers),
      clock_(clock),
      metrics_(metrics),
      options_(options) {}

LivePassStats LiveManager::ReconcileAll() {
  absl::Time start = absl::Now();
  LivePassStats total;
  absl::Status set_status = SyncInstanceSet(total);
  if (!set_status.ok()) {
    Log()->warn("could not bring the instance set in line with the specs error={}",
                set_status.ToString());
  }
  std::vector<std::string> ids = state_->InstanceIds();
  std::vector<LivePassStats> per_item(ids.size());
  std::atomic<int> errors{0};
  ParallelFor(ids.size(), options_.workers, [&](size_t i) {
    absl::Status status = Reconcile(ids[i], &per_item[i]);
    if (!status.ok() && !absl::IsAborted(status)) {
      errors++;
    }
  });
  total.instances = static_cast<int>(ids.size());
  for (const LivePassStats& s : per_item) {
    total.spec_versions += s.spec_versions;
    total.created += s.created;
    total.applied += s.applied;
    total.observed_changes += s.observed_changes;
    total.failed += s.failed;
    total.removed += s.removed;
  }
  total.duration = absl::Now() - start;
  if (metrics_ != nullptr) {
    metrics_->PassDuration("live").Observe(absl::ToDoubleSeconds(total.duration));
    metrics_->PassErrors("live").Increment(errors.load());
  }
  return total;
}

absl::Status LiveManager::AdoptListed(const FleetSpec& fleet, const GroupSpec& group,
                                      std::map<std::string, bool>& desired, LivePassStats& stats) {
  absl::Time now = clock_->Now();
  bool due;
  {
    absl::MutexLock lock(&mu_);
    due = now - last_adopt_[group.name] >= options_.adopt_interval;
  }
  if (!due) {
    // Keep this group's known instances until the next listing.
    for (const std::string& id : state_->InstanceIds()) {
      if (Cached<InstanceRecord> r = state_->Instance(id); r && r->group == group.name) {
        desired[id] = true;
      }
    }
    return absl::OkStatus();
  }
  SF_ASSIGN_OR_RETURN(std::shared_ptr<Provider> provider, providers_->For(group));
  absl::StatusOr<std::vector<ListedReplica>> listed = provider->List();
  if (!listed.ok()) {
    for (const std::string& id : state_->InstanceIds()) {
      if (Cached<InstanceRecord> r = state_->Instance(id); r && r->group == group.name) {
        desired[id] = true;  // A failed listing must not look like an empty group.
      }
    }
    return listed.status();
  }
  {
    absl::MutexLock lock(&mu_);
    last_adopt_[group.name] = now;
  }
  StateBatch batch;
  for (const ListedReplica& replica : *listed) {
    if (replica.role != Role::kLive || replica.instance_id.empty()) {
      continue;
    }
    desired[replica.instance_id] = true;
    if (state_->Instance(replica.instance_id)) {
      continue;
    }
    InstanceRecord record;
    record.id = replica.instance_id;
    record.fleet = fleet.name;
    record.group = group.name;
    record.live = replica.replica;
    record.live_phase = LivePhase::kRunning;
    record.created_at = now;
    record.last_refreshed =
        replica.replica.created_at == absl::InfinitePast() ? now : replica.replica.created_at;
    batch.PutInstance(record, kMustNotExist);
    batch.AddEvent({0, absl::ToUnixMillis(now), "instance.adopted", record.id, "live-manager",
                    "adopted live replica " + replica.replica.id, "{}"});
    stats.added++;
  }
  return batch.empty() ? absl::OkStatus() : state_->Commit(batch).status();
}

absl::Status LiveManager::SyncInstanceSet(LivePassStats& stats) {
  absl::Time now = clock_->Now();
  std::map<std::string, bool> desired;
  absl::Status first_error;
  std::vector<InstanceRecord> to_add;
  for (const Cached<StoredFleet>& fleet : state_->Fleets()) {
    for (const GroupSpec& group : fleet->spec.groups) {
      if (group.live_mode == LiveMode::kAdopted) {
        first_error.Update(AdoptListed(fleet->spec, group, desired, stats));
        continue;
      }
      for (int i = 0; i < group.replicas; ++i) {
        std::string id = InstanceIdFor(group.name, i);
        desired[id] = true;
        if (!state_->Instance(id)) {
          InstanceRecord record;
          record.id = id;
          record.fleet = fleet->name;
          record.group = group.name;
          record.index = i;
          record.created_at = now;
          to_add.push_back(std::move(record));
        }
      }
    }
  }

  // Writes go in bounded batches so that a 100,000-instance fleet does not become one huge
  // transaction.
  StateBatch batch;
  size_t in_batch = 0;
  auto flush = [&]() {
    if (in_batch > 0) {
      first_error.Update(state_->Commit(batch).status());
      batch = StateBatch();
      in_batch = 0;
    }
  };
  for (const InstanceRecord& record : to_add) {
    batch.PutInstance(record, kMustNotExist);
    stats.added++;
    if (++in_batch >= kInstanceBatch) {
      flush();
    }
  }
  for (const std::string& id : state_->InstanceIds()) {
    Cached<InstanceRecord> record = state_->Instance(id);
    if (!record || record->removed || desired.count(id) > 0) {
      continue;
    }
    InstanceRecord next = *record;
    next.removed = true;
    batch.PutInstance(next, record.revision);
    batch.AddEvent({0, absl::ToUnixMillis(now), "instance.removed", id, "live-manager",
                    "no longer in any fleet spec", "{}"});
    Log()->info("instance removed from the spec instance={}", id);
    if (++in_batch >= kInstanceBatch) {
      flush();
    }
  }
  flush();
  if (!to_add.empty()) {
    Log()->info("instances added count={}", to_add.size());
  }
  return first_error;
}

absl::Status LiveManager::Reconcile(const std::string& instance_id, LivePassStats* stats) {
  LivePassStats ignored;
  Step step;
  step.id = instance_id;
  step.stats = stats != nullptr ? stats : &ignored;
  step.now = clock_->Now();
  step.instance = state_->Instance(instance_id);
  if (!step.instance) {
    return absl::OkStatus();
  }
  step.revision = step.instance.revision;
  step.group = state_->Group(step.instance->group);
  step.fleet = state_->Fleet(step.instance->fleet);
  if (step.group == nullptr && (step.instance->removed || !step.fleet)) {
    step.group = state_->GroupOf(*step.instance);  // To tear its replicas down.
  }
  if (step.group != nullptr) {
    absl::StatusOr<std::shared_ptr<Provider>> provider = providers_->For(*step.group);
    if (provider.ok()) {
      step.provider = *provider;
    } else if (!step.instance->removed) {
      return Fail(step, "provider", provider.status());
    }
  }
  if (step.instance->removed || step.group == nullptr || !step.fleet) {
    return step.instance->removed ? RemoveInstance(step) : absl::OkStatus();
  }
  if (step.now < GetLocal(instance_id).next_attempt) {
    return absl::OkStatus();
  }
  step.head = state_->Head(instance_id);
  if (!step.head || step.instance->spec_generation < step.fleet->generation) {
    return MoveToGeneration(step);
  }
  bool managed = step.group->live_mode == LiveMode::kManaged;
  if (managed && (!step.instance->live || step.instance->live->provider_id.empty())) {
    return CreateLive(step);
  }
  if (!step.instance->live) {
    return absl::OkStatus();
  }
  SF_RETURN_IF_ERROR(CheckLive(step));
  if (managed && step.instance->live_phase == LivePhase::kLost &&
      step.instance->active_switchover.empty() &&
      step.group->replace_lost_after > absl::ZeroDuration() &&
      step.now - step.instance->live_phase_since >= step.group->replace_lost_after) {
    return ReplaceLostLive(step);
  }
  if (!step.instance->active_switchover.empty()) {
    // A switchover owns the pair: new versions wait until it ends, so that the replica
    // taking over runs exactly what was judged.
    return absl::OkStatus();
  }
  if (step.instance->live_version < step.head->version &&
      step.instance->live_phase == LivePhase::kRunning) {
    return PushVersion(step);
  }
  if (step.instance->live_phase == LivePhase::kRunning) {
    return ObserveLive(step);
  }
  return absl::OkStatus();
}

absl::Status LiveManager::Write(Step& step, const InstanceRecord& next,
                                const std::string& event_kind, const std::string& message) {
  StateBatch batch;
  batch.PutInstance(next, step.revision);
  if (!event_kind.empty()) {
    nlohmann::json details = {{"replica", next.live ? next.live->id : ""},
                              {"version", next.live_version}};
    batch.AddEvent({0, absl::ToUnixMillis(step.now), event_kind, step.id, "live-manager", message,
                    details.dump()});
  }
  absl::StatusOr<int64_t> revision = state_->Commit(batch);
  if (!revision.ok()) {
    if (absl::IsAborted(revision.status()) && metrics_ != nullptr) {
      metrics_->StoreConflicts().Increment();
    }
    return revision.status();
  }
  step.revision = *revision;
  step.instance = state_->Instance(step.id);
  return absl::OkStatus();
}

absl::Status LiveManager::Fail(Step& step, const std::string& operation,
                               const absl::Status& error) {
  step.stats->failed++;
  Local local = GetLocal(step.id);
  local.failures++;
  absl::Duration delay = BackoffDelay(options_.backoff, local.failures,
                                      std::hash<std::string>()(step.id) + local.failures);
  local.next_attempt = step.now + delay;
  PutLocal(step.id, local);
  if (metrics_ != nullptr && step.provider != nullptr) {
    metrics_->ProviderError(step.provider->name(), operation).Increment();
  }
  Log()->warn("live step failed instance={} operation={} retry_in={} error={}", step.id, operation,
              absl::FormatDuration(delay), error.ToString());
  InstanceRecord next = *step.instance;
  next.live_error = absl::StrCat(operation, ": ", error.message());
  absl::Status written = Write(step, next, "live.failed", next.live_error);
  return written.ok() ? error : written;
}

absl::Status LiveManager::MoveToGeneration(Step& step) {
  const GroupSpec* group = FindGroup(step.fleet->spec, step.instance->group);
  if (group == nullptr) {
    return absl::OkStatus();  // The instance set sync marks it removed.
  }
  nlohmann::json rendered = RenderConfiguration(*group);
  nlohmann::json document = rendered;
  if (step.head && step.instance->spec_generation > 0) {
    // Carry the spec's change onto this instance's own latest document, which may also hold
    // recorded or observed changes the spec knows nothing about.
    SF_ASSIGN_OR_RETURN(
        std::shared_ptr<const StoredFleet> before,
        state_->FleetAtGeneration(step.fleet->name, step.instance->spec_generation));
    const GroupSpec* old_group = before ? FindGroup(before->spec, group->name) : nullptr;
    absl::StatusOr<nlohmann::json> latest = ledger_->Document(step.id, step.head->version);
    if (!latest.ok()) {
      return Fail(step, "read configuration", latest.status());
    }
    document = old_group == nullptr
                   ? rendered
                   : ApplyPatchTolerantly(
                         *latest, nlohmann::json::diff(RenderConfiguration(*old_group), rendered));
  }
  InstanceRecord next = *step.instance;
  next.spec_generation = step.fleet->generation;
  StateBatch also;
  also.PutInstance(next, step.revision);
  ChangeMeta meta{step.fleet->applied_by,
                  absl::StrCat("fleet ", step.fleet->name, " generation ", step.fleet->generation),
                  ChangeSource::kSpec};
  absl::StatusOr<RecordResult> recorded =
      ledger_->Record(step.id, document, meta, &also.write_batch());
  if (!recorded.ok()) {
    return recorded.status();
  }
  if (!recorded->created) {
    return Write(step, next, "", "");
  }
  step.stats->spec_versions++;
  if (metrics_ != nullptr) {
    metrics_->LedgerVersions("spec").Increment();
  }
  Log()->info("version recorded instance={} version={} source=spec fleet={} generation={}", step.id,
              recorded->info.version, step.fleet->name, step.fleet->generation);
  return absl::OkStatus();
}

absl::Status LiveManager::CreateLive(Step& step) {
  if (step.provider == nullptr) {
    return absl::OkStatus();
  }
  InstanceRecord next = *step.instance;
  if (next.live) {
    // A previous attempt stopped after reserving the replica: clear whatever exists under it.
    if (absl::Status gone = step.provider->Terminate(*next.live); !gone.ok()) {
      return Fail(step, "terminate", gone);
    }
  }
  absl::StatusOr<nlohmann::json> document = ledger_->Document(step.id, step.head->version);
  if (!document.ok()) {
    return Fail(step, "read configuration", document.status());
  }
  std::string replica_id = next.NextReplicaId(Role::kLive);
  next.live = Replica{replica_id};
  next.live_phase = LivePhase::kCreating;
  SF_RETURN_IF_ERROR(Write(step, next, "", ""));

  CreateRequest request;
  request.replica_id = replica_id;
  request.instance_id = step.id;
  request.fleet = next.fleet;
  request.group = next.group;
  request.role = Role::kLive;
  request.configuration = *std::move(document);
  request.version = step.head->version;
  absl::StatusOr<Replica> replica = step.provider->Create(request);
  if (!replica.ok()) {
    return Fail(step, "create", replica.status());
  }
  next = *step.instance;
  next.live = *std::move(replica);
  next.live_phase_since = step.now;
  next.live_version = step.head->version;
  next.last_refreshed = step.now;
  next.live_error.clear();
  step.stats->created++;
  if (metrics_ != nullptr) {
    metrics_->LiveAction("created").Increment();
  }
  Log()->info("live created instance={} replica={} version={}", step.id, replica_id,
              next.live_version);
  return Write(step, next, "live.created",
               absl::StrCat("live ", replica_id, " created at version ", next.live_version));
}

absl::Status LiveManager::ReplaceLostLive(Step& step) {
  // The lost replica is cleared away first; CreateLive() then builds a new one.
  if (absl::Status gone = step.provider->Terminate(*step.instance->live); !gone.ok()) {
    return Fail(step, "terminate", gone);
  }
  InstanceRecord next = *step.instance;
  std::string lost = next.live->id;
  next.live.reset();
  next.live_phase = LivePhase::kPending;
  next.live_phase_since = step.now;
  Log()->warn("live replaced after loss instance={} replica={}", step.id, lost);
  if (metrics_ != nullptr) {
    metrics_->LiveAction("replaced").Increment();
  }
  SF_RETURN_IF_ERROR(Write(step, next, "live.replaced",
                           absl::StrCat("lost live ", lost, " replaced by a new one")));
  return CreateLive(step);
}

absl::Status LiveManager::CheckLive(Step& step) {
  Local local = GetLocal(step.id);
  bool due = step.instance->live_phase != LivePhase::kRunning ||
             step.now - local.last_check >= step.group->health_check.interval;
  if (!due || step.provider == nullptr) {
    return absl::OkStatus();
  }
  absl::StatusOr<ReplicaStatus> status = step.provider->Check(*step.instance->live);
  if (!status.ok()) {
    return Fail(step, "check", status.status());
  }
  local.last_check = step.now;
  LivePhase phase = step.instance->live_phase;
  std::string detail = status->detail;
  switch (status->phase) {
    case ReplicaPhase::kGone:
    case ReplicaPhase::kFailed:
      phase = LivePhase::kLost;
      break;
    case ReplicaPhase::kBuilding:
      phase = LivePhase::kCreating;
      break;
    case ReplicaPhase::kRunning:
      if (status->healthy) {
        local.health_failures = 0;
        phase = LivePhase::kRunning;
      } else if (++local.health_failures >= step.group->health_check.failure_threshold &&
                 phase != LivePhase::kCreating) {
        phase = LivePhase::kUnhealthy;
      }
      break;
  }
  local.failures = 0;
  PutLocal(step.id, local);
  if (phase == step.instance->live_phase) {
    return absl::OkStatus();
  }
  InstanceRecord next = *step.instance;
  next.live_phase = phase;
  next.live_phase_since = step.now;
  next.live_error = phase == LivePhase::kRunning ? "" : detail;
  std::string event = absl::StrCat("live.", absl::AsciiStrToLower(LivePhaseName(phase)));
  if (phase == LivePhase::kLost || phase == LivePhase::kUnhealthy) {
    Log()->warn("live {} instance={} replica={} detail={}", LivePhaseName(phase), step.id,
                next.live->id, detail);
    if (metrics_ != nullptr && phase == LivePhase::kLost) {
      metrics_->LiveAction("lost").Increment();
    }
  } else {
    Log()->info("live {} instance={} replica={}", LivePhaseName(phase), step.id, next.live->id);
  }
  return Write(step, next, event, detail.empty() ? LivePhaseName(phase) : detail);
}

absl::Status LiveManager::PushVersion(Step& step) {
  if (step.group->live_mode == LiveMode::kAdopted) {
    // Adopted live instances are changed by their own tooling: every recorded version is
    // taken to be on live already.
    InstanceRecord next = *step.instance;
    next.live_version = step.head->version;
    return Write(step, next, "", "");
  }
  int64_t version = step.head->version;
  absl::StatusOr<nlohmann::json> document = ledger_->Document(step.id, version);
  if (!document.ok()) {
    return Fail(step, "read configuration", document.status());
  }
  nlohmann::json delta = nlohmann::json::array();
  if (step.instance->live_version > 0) {
    absl::StatusOr<nlohmann::json> current =
        ledger_->Document(step.id, step.instance->live_version);
    if (current.ok()) {
      delta = nlohmann::json::diff(*current, *document);
    }
  }
  absl::StatusOr<Replica> updated =
      step.provider->Apply(*step.instance->live, {*document, delta, version});
  if (!updated.ok()) {
    return Fail(step, "apply", updated.status());
  }
  InstanceRecord next = *step.instance;
  next.live = *std::move(updated);
  next.live_version = version;
  next.live_error.clear();
  step.stats->applied++;
  if (metrics_ != nullptr) {
    metrics_->LiveAction("applied").Increment();
  }
  Log()->info("live version applied instance={} replica={} version={}", step.id, next.live->id,
              version);
  return Write(step, next, "live.version_applied",
               absl::StrCat("version ", version, " applied to live"));
}

absl::Status LiveManager::ObserveLive(Step& step) {
  Local local = GetLocal(step.id);
  if (step.now - local.last_observe < options_.observe_interval ||
      step.instance->live_version != step.head->version) {
    // Observing while a recorded version is still on its way to live would read the old
    // configuration back as a change.
    return absl::OkStatus();
  }
  local.last_observe = step.now;
  PutLocal(step.id, local);
  absl::StatusOr<std::optional<nlohmann::json>> observed =
      step.provider->Observe(*step.instance->live);
  if (!observed.ok()) {
    return Fail(step, "observe", observed.status());
  }
  if (!observed->has_value()) {
    return absl::OkStatus();
  }
  absl::StatusOr<nlohmann::json> latest = ledger_->Document(step.id, step.head->version);
  if (!latest.ok()) {
    return Fail(step, "read configuration", latest.status());
  }
  nlohmann::json merged = *latest;
  merged.merge_patch(**observed);
  if (merged == *latest) {
    return absl::OkStatus();
  }
  ChangeMeta meta{"observer", "live configuration differs from the ledger",
                  ChangeSource::kObserved};
  SF_ASSIGN_OR_RETURN(RecordResult recorded, ledger_->Record(step.id, merged, meta));
  step.stats->observed_changes++;
  if (metrics_ != nullptr) {
    metrics_->LiveAction("observed_change").Increment();
    metrics_->LedgerVersions("observed").Increment();
  }
  Log()->info("version recorded instance={} version={} source=observed", step.id,
              recorded.info.version);
  // Live already runs what was observed: it must not be pushed back to it.
  InstanceRecord next = *step.instance;
  next.live_version = recorded.info.version;
  return Write(step, next, "", "");
}

absl::Status LiveManager::RemoveInstance(Step& step) {
  if (state_->Shadow(step.id)) {
    return absl::OkStatus();  // The shadow manager removes the shadow first.
  }
  bool managed = step.group == nullptr || step.group->live_mode == LiveMode::kManaged;
  if (managed && step.instance->live && step.provider != nullptr) {
    if (absl::Status gone = step.provider->Terminate(*step.instance->live); !gone.ok()) {
      return Fail(step, "terminate", gone);
    }
  }
  StateBatch batch;
  batch.DeleteInstance(step.id, step.revision);
  batch.AddEvent({0, absl::ToUnixMillis(step.now), "instance.deleted", step.id, "live-manager",
                  "instance and its replicas removed; its ledger is kept", "{}"});
  SF_RETURN_IF_ERROR(state_->Commit(batch).status());
  step.stats->removed++;
  Log()->info("instance deleted instance={}", step.id);
  return absl::OkStatus();
}

LiveManager::Local LiveManager::GetLocal(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = local_.find(id);
  return it == local_.end() ? Local{} : it->second;
}

void LiveManager::PutLocal(const std::string& id, const Local& local) {
  absl::MutexLock lock(&mu_);
  local_[id] = local;
}

}  // namespace shadowfleet

#include "shadowfleet/prediction/risk_engine.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "shadowfleet/common/logging.h"
#include "shadowfleet/shadow/readiness.h"
#include "shadowfleet/shadow/shadow_manager.h"
#include "shadowfleet/switchover/switchover_controller.h"

namespace shadowfleet {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static auto logger = Logger("risk");
  return logger;
}

nlohmann::json FactorsJson(const std::vector<RiskFactor>& factors) {
  nlohmann::json out = nlohmann::json::array();
  for (const RiskFactor& f : factors) {
    out.push_back(
        {{"name", f.name}, {"description", f.description}, {"contribution", f.contribution}});
  }
  return out;
}

}  // namespace

const char* RecommendationName(Recommendation recommendation) {
  switch (recommendation) {
    case Recommendation::kHealthy:
      return "healthy";
    case Recommendation::kWatch:
      return "watch";
    case Recommendation::kRefreshNow:
      return "refresh now";
  }
  return "unknown";
}

Recommendation Recommend(double probability, double refresh_threshold, double watch_threshold) {
  if (probability >= refresh_threshold) {
    return Recommendation::kRefreshNow;
  }
  return probability >= watch_threshold ? Recommendation::kWatch : Recommendation::kHealthy;
}

nlohmann::json RiskView::ToJson() const {
  return {{"instance", instance_id},
          {"risk", assessment.probability},
          {"horizonSeconds", absl::ToDoubleSeconds(assessment.horizon)},
          {"recommendation", RecommendationName(recommendation)},
          {"threshold", threshold},
          {"topFactors", FactorsJson(assessment.top_factors)},
          {"model", assessment.model_version},
          {"shadowReady", shadow_ready},
          {"unprotected", unprotected},
          {"heldBack", held_back},
          {"asOf", TimeToDisplay(as_of)}};
}

RiskEngine::RiskEngine(FleetState* state, Ledger* ledger, SignalTracker* tracker,
                       RiskLearner* learner, Clock* clock, Metrics* metrics,
                       RiskEngineOptions options)
    : state_(state),
      ledger_(ledger),
      tracker_(tracker),
      learner_(learner),
      clock_(clock),
      metrics_(metrics),
      options_(std::move(options)) {}

void RiskEngine::Connect(SwitchoverController* switchovers, ShadowManager* shadows) {
  switchovers_ = switchovers;
  shadows_ = shadows;
}

InstanceSignals RiskEngine::SignalsOf(const InstanceRecord& instance) {
  InstanceSignals signals = tracker_->Snapshot(instance.id);
  signals.instance_id = instance.id;
  signals.group = instance.group;
  absl::Time now = clock_->Now();
  if (signals.as_of == absl::InfinitePast()) {
    signals.as_of = now;
  }
  absl::Time born = instance.live && instance.live->created_at != absl::InfinitePast()
                        ? instance.live->created_at
                        : instance.created_at;
  signals.age_hours = std::max(0.0, absl::ToDoubleHours(now - born));
  if (std::optional<VersionHead> head = state_->Head(instance.id)) {
    absl::StatusOr<nlohmann::json> document = ledger_->Document(instance.id, head->version);
    if (document.ok() && document->contains("software") && (*document)["software"].is_object()) {
      for (const auto& [name, version] : (*document)["software"].items()) {
        if (version.is_string()) {
          signals.software[name] = version.get<std::string>();
        }
      }
    }
  }
  if (options_.vulnerabilities) {
    signals.vulnerabilities = options_.vulnerabilities(signals.software);
  }
  return signals;
}

void RiskEngine::ScoreAll() {
  for (const std::string& id : state_->InstanceIds()) {
    Score(id);
  }
  // Instances removed from the fleet leave the risk views and the metrics.
  std::vector<std::string> gone;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = tracked_.begin(); it != tracked_.end();) {
      Cached<InstanceRecord> instance = state_->Instance(it->first);
      if (instance && !instance->removed) {
        ++it;
        continue;
      }
      gone.push_back(it->first);
      it = tracked_.erase(it);
    }
  }
  for (const std::string& id : gone) {
    tracker_->Forget(id);
    if (metrics_ != nullptr) {
      metrics_->ForgetInstance(id);
    }
  }
}

void RiskEngine::Score(const std::string& id) {
  Cached<InstanceRecord> instance = state_->Instance(id);
  if (!instance || instance->removed || !instance->live) {
    return;
  }
  std::shared_ptr<const GroupSpec> group = state_->Group(instance->group);
  if (group == nullptr) {
    return;
  }
  absl::Time now = clock_->Now();
  Tracked tracked;
  {
    absl::MutexLock lock(&mu_);
    tracked = tracked_[id];
  }

  // A new live replica (after a switchover) starts with fresh models; the old one's history
  // ends censored unless it was seen to fail.
  if (!tracked.live_replica.empty() && tracked.live_replica != instance->live->id) {
    if (tracked.live_phase != LivePhase::kLost) {
      learner_->RecordCensored(id, now);
    }
    tracker_->Forget(id);
    tracked.history.clear();
    tracked.last_example = absl::InfinitePast();
    tracked.hold.reset();
  }
  // Failures the fleet shows by itself: a crash, or a live replica failing its checks.
  if (tracked.live_replica == instance->live->id && tracked.live_phase != instance->live_phase) {
    if (instance->live_phase == LivePhase::kLost) {
      learner_->RecordFailure(id, now, "crash");
    } else if (instance->live_phase == LivePhase::kUnhealthy) {
      learner_->RecordFailure(id, now, "health_check");
    }
  }
  tracked.live_replica = instance->live->id;
  tracked.live_phase = instance->live_phase;

  InstanceSignals signals = SignalsOf(*instance);
  std::shared_ptr<const RiskModel> model = learner_->Current();
  RiskView view;
  view.instance_id = id;
  view.assessment = model->Assess(signals);
  view.threshold = group->switchover.risk_threshold;
  view.recommendation = Recommend(view.assessment.probability, view.threshold, view.threshold / 2);
  view.as_of = now;
  std::optional<Readiness> readiness = ComputeInstanceReadiness(*state_, id, now, nullptr);
  view.shadow_ready = readiness && readiness->ready;
  bool at_risk =
      view.assessment.probability >= view.threshold && instance->live_phase != LivePhase::kLost;
  view.unprotected = at_risk && !view.shadow_ready;

  if (now - tracked.last_example >= options_.example_interval &&
      instance->live_phase == LivePhase::kRunning) {
    learner_->RecordExample(signals, now);
    tracked.last_example = now;
  }
  tracked.history.push_back({now, view.assessment.probability});
  while (tracked.history.size() > options_.history_points) {
    tracked.history.pop_front();
  }
  if (metrics_ != nullptr) {
    metrics_->RiskScore(id).Set(view.assessment.probability);
  }

  // The seed's rule, unless a rolled-back attempt on this live replica holds it back.
  bool rule_holds = at_risk && view.shadow_ready && group->switchover.automatic &&
                    instance->active_switchover.empty() && switchovers_ != nullptr &&
                    !switchovers_->ActiveFor(id);
  if (rule_holds) {
    if (!tracked.hold) {
      tracked.hold = HoldFromHistory(id, instance->live->id);
    }
    const Hold& hold = *tracked.hold;
    if (hold.rollbacks > 0 && now < hold.until && view.assessment.probability < hold.risk_above) {
      view.held_back = absl::StrFormat(
          "%d risk switchover%s of %s rolled back (last %s); next attempt in %s, or at risk "
          "%.2f",
          hold.rollbacks, hold.rollbacks == 1 ? "" : "s", instance->live->id, hold.last_switchover,
          absl::FormatDuration(absl::Trunc(hold.until - now, absl::Seconds(1))), hold.risk_above);
      rule_holds = false;
    }
  }
  if (!view.held_back.empty() && !tracked.flagged_held) {
    StateBatch batch;
    batch.AddEvent({0, absl::ToUnixMillis(now), "risk.held_back", id, "risk-engine", view.held_back,
                    view.ToJson().dump()});
    state_->Commit(batch).IgnoreError();
  }
  tracked.flagged_held = !view.held_back.empty();
  if (rule_holds) {
    std::string top = view.assessment.top_factors.empty()
                          ? std::string("no single factor")
                          : view.assessment.top_factors.front().description;
    SwitchoverRequest request;
    request.instance_id = id;
    request.trigger = SwitchoverTrigger::kRisk;
    request.actor = "risk-engine";
    request.reason =
        absl::StrFormat("risk %.2f >= %.2f within %s: %s", view.assessment.probability,
                        view.threshold, absl::FormatDuration(view.assessment.horizon), top);
    request.decision = view.ToJson();
    request.decision["readiness"] = readiness ? readiness->ToJson() : nlohmann::json(nullptr);
    if (tracked.hold && tracked.hold->rollbacks > 0) {
      request.decision["earlierRollbacks"] = tracked.hold->rollbacks;
    }
    request.priority = view.assessment.probability;
    absl::StatusOr<SwitchoverRecord> started = switchovers_->Start(request);
    if (started.ok()) {
      Log()->info("risk crossed threshold instance={} risk={:.3f} threshold={:.2f} switchover={}",
                  id, view.assessment.probability, view.threshold, started->id);
      tracked.hold.reset();  // Its outcome is read back from the history when it matters.
    }
  }
  if (view.unprotected && !tracked.flagged_unprotected) {
    Log()->warn("instance at risk and unprotected instance={} risk={:.3f} readiness={}", id,
                view.assessment.probability,
                readiness ? ReadinessReasonName(readiness->reason) : "unknown");
    StateBatch batch;
    batch.AddEvent(
        {0, absl::ToUnixMillis(now), "risk.unprotected", id, "risk-engine",
         absl::StrFormat("risk %.2f but the shadow is not ready (%s)", view.assessment.probability,
                         readiness ? readiness->detail : "no readiness"),
         view.ToJson().dump()});
    state_->Commit(batch).IgnoreError();
    if (shadows_ != nullptr) {
      shadows_->Expedite(id);
    }
  }
  tracked.flagged_unprotected = view.unprotected;

  // The stored score follows large moves only: writes are not free across a large fleet.
  if (std::abs(view.assessment.probability - tracked.stored) >= options_.write_delta) {
    InstanceRecord next = *instance;
    next.risk_score = view.assessment.probability;
    StateBatch batch;
    batch.PutInstance(next, instance.revision);
    if (state_->Commit(batch).ok()) {
      tracked.stored = view.assessment.probability;
    }
  }
  tracked.view = view;
  absl::MutexLock lock(&mu_);
  tracked_[id] = std::move(tracked);
}

// Only rollbacks after traffic moved count: a switchover cancelled before its first step
// (the shadow fell behind, an operator aborted) says nothing about how the shadow serves. The
// history is read from the controller, not kept here, so a restarted daemon remembers it.
RiskEngine::Hold RiskEngine::HoldFromHistory(const std::string& instance_id,
                                             const std::string& live_replica) const {
  Hold hold;
  absl::Time last = absl::InfinitePast();
  double last_risk = 0;
  for (const SwitchoverRecord& sw : switchovers_->List(/*active_only=*/false)) {
    if (sw.instance_id != instance_id || sw.trigger != SwitchoverTrigger::kRisk ||
        sw.phase != SwitchoverPhase::kRolledBack || sw.step < 1 || !sw.old_replica ||
        sw.old_replica->id != live_replica) {
      continue;
    }
    hold.rollbacks++;
    if (sw.phase_since > last) {
      last = sw.phase_since;
      last_risk = sw.decision.value("risk", 0.0);
      hold.last_switchover = sw.id;
    }
  }
  if (hold.rollbacks == 0) {
    return hold;
  }
  absl::Duration wait = options_.rollback_hold;
  for (int i = 1; i < hold.rollbacks && wait < options_.max_rollback_hold; ++i) {
    wait *= 2;
  }
  hold.until = last + std::min(wait, options_.max_rollback_hold);
  // Retry early once the odds of surviving the horizon have halved since the last attempt.
  hold.risk_above = 1 - (1 - last_risk) / 2;
  return hold;
}

std::vector<RiskView> RiskEngine::All() const {
  absl::MutexLock lock(&mu_);
  std::vector<RiskView> out;
  for (const auto& [id, tracked] : tracked_) {
    if (tracked.view) {
      out.push_back(*tracked.view);
    }
  }
  return out;
}

std::optional<RiskView> RiskEngine::Get(const std::string& instance_id) const {
  absl::MutexLock lock(&mu_);
  auto it = tracked_.find(instance_id);
  if (it == tracked_.end()) {
    return std::nullopt;
  }
  return it->second.view;
}

std::vector<RiskPoint> RiskEngine::History(const std::string& instance_id) const {
  absl::MutexLock lock(&mu_);
  auto it = tracked_.find(instance_id);
  if (it == tracked_.end()) {
    return {};
  }
  return {it->second.history.begin(), it->second.history.end()};
}

absl::Status RiskEngine::ReportFailure(const std::string& instance_id, const std::string& kind,
                                       const std::string& actor, const std::string& reason) {
  if (!state_->Instance(instance_id)) {
    return absl::NotFoundError(absl::StrCat("no instance \"", instance_id, "\""));
  }
  absl::Time now = clock_->Now();
  learner_->RecordFailure(instance_id, now, kind);
  StateBatch batch;
  batch.AddEvent({0, absl::ToUnixMillis(now), "failure.reported", instance_id, actor,
                  absl::StrCat(kind, ": ", reason), nlohmann::json{{"kind", kind}}.dump()});
  return state_->Commit(batch).status();
}

}  // namespace shadowfleet

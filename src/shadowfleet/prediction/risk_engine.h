// The risk engine: scores every instance on a schedule, keeps each instance's risk history,
// feeds the learner (examples, failures, censoring) and drives the switchover controller with
// the seed's rule — risk above the instance's threshold AND a ready shadow: switch over. An
// instance at risk whose shadow is not ready is reported as unprotected and its shadow is
// expedited. A risk-triggered switchover that was rolled back (the shadow did worse than the
// at-risk live replica) holds back further attempts on the same live replica, with a backoff,
// unless the risk grows well past what it was when the attempt was made.
//
// Thread-safety: ScoreAll() runs on one task thread; the readers and ReportFailure() may be
// called from API threads.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

#include "shadowfleet/common/clock.h"
#include "shadowfleet/fleet/fleet_state.h"
#include "shadowfleet/ledger/ledger.h"
#include "shadowfleet/metrics/metrics.h"
#include "shadowfleet/prediction/risk_model.h"
#include "shadowfleet/prediction/signal_tracker.h"

namespace shadowfleet {

class ShadowManager;
class SwitchoverController;

// What the engine learns from. Implemented by the model registry.
class RiskLearner {
 public:
  virtual ~RiskLearner() = default;
  // The model to score with: the promoted learnt model, or the prior.
  virtual std::shared_ptr<const RiskModel> Current() const = 0;
  virtual void RecordExample(const InstanceSignals& signals, absl::Time at) = 0;
  virtual void RecordFailure(const std::string& instance_id, absl::Time at,
                             const std::string& kind) = 0;
  // The instance was switched out at `at`: it did not get the chance to fail.
  virtual void RecordCensored(const std::string& instance_id, absl::Time at) = 0;
};

struct RiskView {
  std::string instance_id;
  RiskAssessment assessment;
  Recommendation recommendation = Recommendation::kHealthy;
  double threshold = 0;
  bool shadow_ready = false;
  bool unprotected = false;  // At risk, and the shadow cannot take over yet.
  // Why no switchover is started although the seed's rule holds: an earlier attempt on this
  // live replica was rolled back. Empty when nothing holds the instance back.
  std::string held_back;
  absl::Time as_of = absl::InfinitePast();

  nlohmann::json ToJson() const;
};

struct RiskPoint {
  absl::Time at;
  double probability;
};

struct RiskEngineOptions {
  absl::Duration example_interval = absl::Minutes(1);  // Training examples per instance.
  size_t history_points = 720;
  double write_delta = 0.05;  // Stored risk score updated when it moves this much.
  // Software stack -> known vulnerabilities (from advisories); may be empty.
  std::function<std::vector<VulnerabilityMatch>(const std::map<std::string, std::string>&)>
      vulnerabilities;
  // After a risk-triggered switchover of a live replica is rolled back, the next one waits
  // this long, doubling with every further rollback of the same replica, up to the maximum.
  absl::Duration rollback_hold = absl::Minutes(5);
  absl::Duration max_rollback_hold = absl::Hours(1);
};

class RiskEngine {
 public:
  RiskEngine(FleetState* state, Ledger* ledger, SignalTracker* tracker, RiskLearner* learner,
             Clock* clock, Metrics* metrics, RiskEngineOptions options = {});

  // Optional: the controller to trigger and the shadow manager to expedite.
  void Connect(SwitchoverController* switchovers, ShadowManager* shadows);

  // Scores every instance, records what the learner needs, and triggers switchovers.
  void ScoreAll();

  std::vector<RiskView> All() const;
  std::optional<RiskView> Get(const std::string& instance_id) const;
  std::vector<RiskPoint> History(const std::string& instance_id) const;

  // A failure reported by an operator or another system (it is a positive label).
  absl::Status ReportFailure(const std::string& instance_id, const std::string& kind,
                             const std::string& actor, const std::string& reason);

 private:
  // What rolled-back attempts on the current live replica teach: how many there were, and
  // when (or at what risk) the next attempt may start.
  struct Hold {
    int rollbacks = 0;
    absl::Time until = absl::InfinitePast();
    double risk_above = 1;  // An attempt may start before `until` once the risk reaches this.
    std::string last_switchover;
  };
  struct Tracked {
    std::string live_replica;
    LivePhase live_phase = LivePhase::kPending;
    absl::Time last_example = absl::InfinitePast();
    std::optional<RiskView> view;
    std::deque<RiskPoint> history;
    double stored = -1;  // Last risk score written to the instance record.
    bool flagged_unprotected = false;
    std::optional<Hold> hold;  // Unknown until needed; forgotten when a switchover starts.
    bool flagged_held = false;
  };

  InstanceSignals SignalsOf(const InstanceRecord& instance);
  void Score(const std::string& id);
  Hold HoldFromHistory(const std::string& instance_id, const std::string& live_replica) const;

  FleetState* const state_;
  Ledger* const ledger_;
  SignalTracker* const tracker_;
  RiskLearner* const learner_;
  Clock* const clock_;
  Metrics* const metrics_;
  const RiskEngineOptions options_;
  SwitchoverController* switchovers_ = nullptr;
  ShadowManager* shadows_ = nullptr;

  mutable absl::Mutex mu_;
  std::map<std::string, Tracked> tracked_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shadowfleet

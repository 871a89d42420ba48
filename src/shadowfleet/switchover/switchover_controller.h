// The Automated Switchover Controller: moves an instance's traffic from its live replica to
// its ready shadow in canary steps (or blue/green), judging each step against the old replica
// over the same window, and rolls back when the new replica does worse.
//
// Every transition is written to the store before the router is touched, and the router is
// then brought to what the persisted phase says, so a restart at any point resumes the
// switchover where it stood or rolls it back. Two invariants hold throughout:
//   - the instance's live and shadow weights always sum to 100 % (weights are changed in one
//     call, the increasing one first), so traffic is never left at 0 %;
//   - the old replica is terminated only after the new one has held 100 % for the bake time
//     (or after the old one was lost anyway).
// While a switchover runs, the live and shadow managers leave the pair alone
// (InstanceRecord::active_switchover).
//
// Thread-safety: ReconcileAll() runs on the control thread; Start(), Act(), List() and Get()
// may be called from API threads.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "shadowfleet/common/clock.h"
#include "shadowfleet/fleet/fleet_state.h"
#include "shadowfleet/metrics/metrics.h"
#include "shadowfleet/provider/provider_set.h"
#include "shadowfleet/router/router.h"
#include "shadowfleet/switchover/replica_metrics.h"
#include "shadowfleet/switchover/switchover_record.h"

namespace shadowfleet {

struct SwitchoverRequest {
  std::string instance_id;
  SwitchoverTrigger trigger = SwitchoverTrigger::kManual;
  std::string actor;
  std::string reason;
  nlohmann::json decision = nlohmann::json::object();
  std::optional<SwitchoverSpec::Strategy> strategy;  // Default: the group's.
  double priority = 0;  // Among pending switchovers, higher goes first (e.g. the risk score).
};

struct SwitchoverPassStats {
  int active = 0;
  int transitions = 0;
  int completed = 0;
  int rolled_back = 0;
  int errors = 0;
  absl::Duration duration;
};

struct SwitchoverControllerOptions {
  int workers = 4;
  // How often the router is told an idle instance's weights again, to repair drift (a
  // restarted load balancer forgets runtime changes).
  absl::Duration traffic_refresh = absl::Seconds(60);
};

class SwitchoverController {
 public:
  using RouterFor = std::function<absl::StatusOr<std::shared_ptr<Router>>(const GroupSpec&)>;
  using MetricsFor = std::function<ReplicaMetricsSource*(const GroupSpec&)>;

  SwitchoverController(FleetState* state, ProviderSet* providers, RouterFor routers,
                       MetricsFor metrics_sources, Clock* clock, Metrics* metrics,
                       SwitchoverControllerOptions options = {});
  SwitchoverController(const SwitchoverController&) = delete;
  SwitchoverController& operator=(const SwitchoverController&) = delete;

  // Requests a switchover. FAILED_PRECONDITION if the instance already has one active,
  // NOT_FOUND for an unknown instance.
  absl::StatusOr<SwitchoverRecord> Start(const SwitchoverRequest& request);

  // Records an operator's action (pause, resume, promote, abort) for the next pass.
  absl::StatusOr<SwitchoverRecord> Act(const std::string& id, OperatorAction action,
                                       const std::string& actor, const std::string& reason);

  std::vector<SwitchoverRecord> List(bool active_only) const;
  std::optional<SwitchoverRecord> Get(const std::string& id) const;
  // The active switchover of an instance, if any.
  std::optional<SwitchoverRecord> ActiveFor(const std::string& instance_id) const;

  // One pass: a failover starts for every instance whose live replica was lost (when its
  // group allows automatic switchovers), every active switchover takes its next step, and
  // idle instances' traffic is kept at live 100 % / shadow 0 %.
  SwitchoverPassStats ReconcileAll();

 private:
  struct Entry {
    SwitchoverRecord record;
    int64_t revision = 0;
  };
  // What a switchover has measured in its current judgement window (memory only: a restart
  // starts the window again).
  struct Window {
    int step = -1;
    absl::Time last_read = absl::InfinitePast();
    std::optional<ReplicaCounters> old_last, new_last;
    ReplicaSamples old_samples, new_samples;
    int applied_weight = -1;  // Router weight last confirmed, -1: unknown.
  };
  struct Step;
  // A group's disruption budget during one pass.
  struct GroupBudget {
    int active = 0;    // Switchovers past Pending.
    int total = 0;     // Instances.
    int healthy = 0;   // Running live replicas not in a switchover.
    int admitted = 0;  // Admitted in this pass.
  };

  void OnStoredChange(const ObjectRecord& record);
  void IndexLocked(const SwitchoverRecord& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Reconcile(const std::string& id, std::map<std::string, GroupBudget>* budgets,
                         SwitchoverPassStats* stats);
  absl::Status Admit(Step& step, GroupBudget* budget);
  absl::Status Prepare(Step& step);
  absl::Status Advance(Step& step);
  absl::Status Bake(Step& step);
  absl::Status Retire(Step& step);
  absl::Status RollBack(Step& step);
  absl::Status BeginRollback(Step& step, const std::string& why);
  absl::Status Promote(Step& step, const std::string& why);
  absl::Status ApplyWeights(Step& step, int new_weight);
  void Sample(Step& step, bool old_too);
  absl::Status Save(Step& step, StateBatch& batch, const std::string& event,
                    const std::string& message, const nlohmann::json& details = nullptr);
  void ReconcileTraffic();
  void StartFailovers();

  Window GetWindow(const std::string& id);
  void PutWindow(const std::string& id, const Window& window);

  FleetState* const state_;
  ProviderSet* const providers_;
  const RouterFor routers_;
  const MetricsFor metrics_sources_;
  Clock* const clock_;
  Metrics* const metrics_;
  const SwitchoverControllerOptions options_;

  mutable absl::Mutex mu_;
  std::map<std::string, Entry> switchovers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, double> priority_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> active_by_instance_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Window> windows_ ABSL_GUARDED_BY(mu_);
  // Per idle instance: the replica names last put in the router and when.
  struct Traffic {
    std::string live;
    std::string shadow;
    absl::Time at = absl::InfinitePast();
  };
  std::map<std::string, Traffic> traffic_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shadowfleet

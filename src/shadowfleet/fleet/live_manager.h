// The live side of the fleet: instance records that follow the fleet specs, the spec-driven
// configuration versions of each instance, and the live replicas themselves.
//
// For each instance, one reconcile step does the first of:
//   1. move its configuration to the current fleet generation (a spec-sourced version);
//   2. for managed groups, create the live replica if it has none;
//   3. check live's health (on the group's interval) and report it;
//   4. for managed groups, apply recorded versions that live does not run yet;
//   5. observe live's actual configuration and record any difference as an observed version.
// It never replaces or removes a live replica that serves (that is a switchover's job); it
// removes live replicas only of instances deleted from the spec.
//
// Thread-safety: like ShadowManager, called from one control thread; fans out internally.
#pragma once

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

#include "shadowfleet/common/backoff.h"
#include "shadowfleet/common/clock.h"
#include "shadowfleet/fleet/fleet_state.h"
#include "shadowfleet/ledger/ledger.h"
#include "shadowfleet/metrics/metrics.h"
#include "shadowfleet/provider/provider_set.h"

namespace shadowfleet {

struct LiveManagerOptions {
  absl::Duration observe_interval = absl::Seconds(30);
  absl::Duration adopt_interval = absl::Seconds(60);  // How often adopted groups are listed.
  BackoffPolicy backoff;
  int workers = 4;
};

struct LivePassStats {
  int instances = 0;
  int added = 0;
  int removed = 0;
  int spec_versions = 0;
  int created = 0;
  int applied = 0;
  int observed_changes = 0;
  int failed = 0;
  absl::Duration duration;
};

class LiveManager {
 public:
  LiveManager(FleetState* state, Ledger* ledger, ProviderSet* providers, Clock* clock,
              Metrics* metrics, LiveManagerOptions options = {});
  LiveManager(const LiveManager&) = delete;
  LiveManager& operator=(const LiveManager&) = delete;

  // Brings instance records in line with the specs, then takes one step per instance.
  LivePassStats ReconcileAll();

  absl::Status Reconcile(const std::string& instance_id, LivePassStats* stats = nullptr);

 private:
  struct Local {
    absl::Time last_check = absl::InfinitePast();
    absl::Time last_observe = absl::InfinitePast();
    int health_failures = 0;
    absl::Time next_attempt = absl::InfinitePast();
    int failures = 0;
  };
  struct Step;

  absl::Status SyncInstanceSet(LivePassStats& stats);
  absl::Status AdoptListed(const FleetSpec& fleet, const GroupSpec& group,
                           std::map<std::string, bool>& desired, LivePassStats& stats);
  absl::Status MoveToGeneration(Step& step);
  absl::Status CreateLive(Step& step);
  absl::Status CheckLive(Step& step);
  absl::Status ReplaceLostLive(Step& step);
  absl::Status PushVersion(Step& step);
  absl::Status ObserveLive(Step& step);
  absl::Status RemoveInstance(Step& step);
  absl::Status Fail(Step& step, const std::string& operation, const absl::Status& error);
  absl::Status Write(Step& step, const InstanceRecord& next, const std::string& event_kind,
                     const std::string& message);

  Local GetLocal(const std::string& id);
  void PutLocal(const std::string& id, const Local& local);

  FleetState* const state_;
  Ledger* const ledger_;
  ProviderSet* const providers_;
  Clock* const clock_;
  Metrics* const metrics_;
  const LiveManagerOptions options_;

  absl::Mutex mu_;
  std::map<std::string, Local> local_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> last_adopt_ ABSL_GUARDED_BY(mu_);  // per group
};

// Applies an RFC 6902 patch operation by operation, skipping operations that no longer fit
// (a "remove" of a missing path) and turning a "replace" of a missing path into an "add".
// Spec changes are applied this way onto documents that also changed on their own.
nlohmann::json ApplyPatchTolerantly(const nlohmann::json& document, const nlohmann::json& patch);

}  // namespace shadowfleet

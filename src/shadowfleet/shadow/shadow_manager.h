// The Shadow Fleet Manager: a level-triggered reconciler that keeps exactly one shadow
// replica per live instance, built from the same configuration and patched right after live
// (or after a version is marked tested, per the group's policy).
//
// Each pass reads the desired state (fleet specs, ledger heads, live versions) and the actual
// state (shadow records, provider health) and takes at most one step per instance: create a
// missing shadow, apply the next pending version, replace a broken shadow, or record that it
// is ready. Every step is written to the store before and after the provider call, so a
// crash at any point leaves an intent the next pass finishes or undoes. Failures back off
// per instance. It never calls the provider on a live replica.
//
// Thread-safety: ReconcileAll() and Reconcile() may be called from one control thread at a
// time; they fan out to worker threads internally. Per-instance health counters are local to
// this object (a restarted daemon starts counting afresh).
#pragma once

#include <map>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

#include "shadowfleet/common/backoff.h"
#include "shadowfleet/common/clock.h"
#include "shadowfleet/fleet/fleet_state.h"
#include "shadowfleet/ledger/ledger.h"
#include "shadowfleet/metrics/metrics.h"
#include "shadowfleet/provider/provider_set.h"

namespace shadowfleet {

struct ShadowManagerOptions {
  BackoffPolicy backoff;
  int workers = 4;  // Threads per pass; provider calls may block (health checks, plug-ins).
  // How long an Apply may stay unconfirmed by Check() before it is issued again.
  absl::Duration apply_confirm_timeout = absl::Minutes(2);
};

struct ShadowPassStats {
  int instances = 0;
  int created = 0;
  int applied = 0;
  int replaced = 0;
  int removed = 0;
  int failed = 0;
  int backing_off = 0;
  int conflicts = 0;
  absl::Duration duration;
};

class ShadowManager {
 public:
  ShadowManager(FleetState* state, Ledger* ledger, ProviderSet* providers, Clock* clock,
                Metrics* metrics, ShadowManagerOptions options = {});
  ShadowManager(const ShadowManager&) = delete;
  ShadowManager& operator=(const ShadowManager&) = delete;

  // One pass over every instance in `state` (which the caller has synced).
  ShadowPassStats ReconcileAll();

  // One step for one instance. ABORTED when another writer changed its records meanwhile
  // (the next pass retries); other errors are also recorded on the shadow with a backoff.
  absl::Status Reconcile(const std::string& instance_id, ShadowPassStats* stats = nullptr);

  // Makes the next pass work on `instance_id` even if it is backing off: an instance at risk
  // needs its shadow now.
  void Expedite(const std::string& instance_id);

  // Terminates shadow replicas the provider lists that no shadow record owns (left behind by
  // a crash between creating a replica and recording it). Never touches live replicas.
  absl::Status CollectOrphans();

 private:
  struct Health {
    absl::Time last_check = absl::InfinitePast();
    int failures = 0;
    ReplicaStatus status;
    absl::Time apply_issued = absl::InfinitePast();
    int64_t apply_issued_version = 0;
  };
  struct Step;

  absl::Status RemoveShadow(Step& step);
  absl::Status CreateShadow(Step& step);
  absl::Status ObserveShadow(Step& step);
  absl::Status AdvanceShadow(Step& step);
  absl::Status ApplyNextVersion(Step& step);
  absl::Status ReplaceShadow(Step& step, const std::string& why);
  absl::Status RecordFailure(Step& step, const std::string& operation, const absl::Status& error);
  absl::Status Write(Step& step, const std::string& event_kind, const std::string& message);

  Health GetHealth(const std::string& instance_id);
  void PutHealth(const std::string& instance_id, const Health& health);
  void ForgetHealth(const std::string& instance_id);

  FleetState* const state_;
  Ledger* const ledger_;
  ProviderSet* const providers_;
  Clock* const clock_;
  Metrics* const metrics_;
  const ShadowManagerOptions options_;

  absl::Mutex health_mu_;
  std::map<std::string, Health> health_ ABSL_GUARDED_BY(health_mu_);
  std::set<std::string> expedited_ ABSL_GUARDED_BY(health_mu_);
};

}  // namespace shadowfleet

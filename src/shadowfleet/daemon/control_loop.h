// The daemon's control loop: the thread that runs the reconcilers. Each iteration syncs the
// state view from the store, runs the live manager's and the Shadow Fleet Manager's passes,
// and now and then collects orphan shadows. It runs again at once when the last iteration
// changed something (a step leads to the next: create, then confirm, then apply ...), and
// otherwise sleeps for the reconcile interval or until nudged by an API change.
//
// Only the daemon holding the store's "controller" lease runs passes, so several daemons can
// share one store with one of them acting at a time; the others take over when its lease
// expires. A second thread syncs data volumes under the same lease.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"

#include "shadowfleet/common/clock.h"
#include "shadowfleet/fleet/fleet_state.h"
#include "shadowfleet/fleet/live_manager.h"
#include "shadowfleet/shadow/shadow_manager.h"
#include "shadowfleet/volume/volume_syncer.h"

namespace shadowfleet {

struct ControlLoopOptions {
  std::string holder;  // This daemon's identity for the lease.
  absl::Duration interval = absl::Seconds(1);
  absl::Duration lease_ttl = absl::Seconds(15);
  absl::Duration orphan_interval = absl::Minutes(1);
  absl::Duration volume_interval = absl::Milliseconds(500);
};

struct IterationSummary {
  bool leader = false;
  LivePassStats live;
  ShadowPassStats shadow;
  bool changed() const;
};

class ControlLoop {
 public:
  ControlLoop(Store* store, FleetState* state, LiveManager* live, ShadowManager* shadow,
              VolumeSyncer* volumes, Clock* clock, ControlLoopOptions options);
  ~ControlLoop();
  ControlLoop(const ControlLoop&) = delete;
  ControlLoop& operator=(const ControlLoop&) = delete;

  void Start();
  // Finishes the current iteration, stops both threads and releases the lease.
  void Stop();
  // Wakes the loop for an immediate iteration.
  void Nudge();

  // One iteration on the caller's thread (tests and tools drive the loop this way).
  IterationSummary RunOnce();

  bool leader() const { return leader_.load(); }
  int64_t iterations() const { return iterations_.load(); }

 private:
  bool RenewLease();
  void ReconcileThread();
  void VolumeThread();
  bool WaitFor(absl::Duration timeout);  // False once stopping.

  Store* const store_;
  FleetState* const state_;
  LiveManager* const live_;
  ShadowManager* const shadow_;
  VolumeSyncer* const volumes_;
  Clock* const clock_;
  const ControlLoopOptions options_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool nudged_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> leader_{false};
  std::atomic<int64_t> iterations_{0};
  absl::Time last_orphan_collection_ = absl::InfinitePast();
  std::thread reconcile_thread_;
  std::thread volume_thread_;
};

}  // namespace shadowfleet

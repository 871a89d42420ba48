// The daemon's control loop: the thread that runs the reconcilers. Each iteration syncs the
// state view from the store, runs the live manager's and the Shadow Fleet Manager's passes,
// and now and then collects orphan shadows. It runs again at once when the last iteration
// changed something (a step leads to the next: create, then confirm, then apply ...), and
// otherwise sleeps for the reconcile interval or until nudged by an API change.
//
// Only the daemon holding the store's "controller" lease runs passes, so several daemons can
// share one store with one of them acting at a time; the others take over when its lease
// expires. Periodic tasks (data volume sync, metric scrapes, risk scoring) run on threads of
// their own under the same lease, so a slow one never holds up reconciliation.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

#include "shadowfleet/common/clock.h"
#include "shadowfleet/fleet/fleet_state.h"
#include "shadowfleet/fleet/live_manager.h"
#include "shadowfleet/shadow/shadow_manager.h"

namespace shadowfleet {

struct ControlLoopOptions {
  std::string holder;  // This daemon's identity for the lease.
  absl::Duration interval = absl::Seconds(1);
  absl::Duration lease_ttl = absl::Seconds(15);
  absl::Duration orphan_interval = absl::Minutes(1);
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
              Clock* clock, ControlLoopOptions options);
  ~ControlLoop();
  ControlLoop(const ControlLoop&) = delete;
  ControlLoop& operator=(const ControlLoop&) = delete;

  // Adds a task run every `interval` on its own thread while this daemon holds the lease.
  // Call before Start().
  void AddTask(std::string name, absl::Duration interval, std::function<void()> task);

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
  struct Task {
    std::string name;
    absl::Duration interval;
    std::function<void()> run;
  };
  void ReconcileThread();
  void TaskThread(const Task& task);
  bool WaitFor(absl::Duration timeout);  // False once stopping.

  Store* const store_;
  FleetState* const state_;
  LiveManager* const live_;
  ShadowManager* const shadow_;
  Clock* const clock_;
  const ControlLoopOptions options_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool nudged_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> leader_{false};
  std::atomic<int64_t> iterations_{0};
  absl::Time last_orphan_collection_ = absl::InfinitePast();
  std::vector<Task> tasks_;
  std::thread reconcile_thread_;
  std::vector<std::thread> task_threads_;
};

}  // namespace shadowfleet

#include "shadowfleet/daemon/control_loop.h"

#include "shadowfleet/common/logging.h"

namespace shadowfleet {
namespace {

constexpr char kLeaseName[] = "controller";
// After an iteration that changed something, the next one starts this soon.
constexpr absl::Duration kRequeueDelay = absl::Milliseconds(20);

}  // namespace

bool IterationSummary::changed() const {
  return live.added + live.removed + live.spec_versions + live.created + live.applied +
             live.observed_changes + shadow.created + shadow.applied + shadow.replaced +
             shadow.removed >
         0;
}

ControlLoop::ControlLoop(Store* store, FleetState* state, LiveManager* live, ShadowManager* shadow,
                         Clock* clock, ControlLoopOptions options)
    : store_(store),
      state_(state),
      live_(live),
      shadow_(shadow),
      clock_(clock),
      options_(std::move(options)) {}

ControlLoop::~ControlLoop() {
  Stop();
}

bool ControlLoop::RenewLease() {
  absl::StatusOr<bool> held =
      store_->TryAcquireLease(kLeaseName, options_.holder, absl::ToUnixMillis(clock_->Now()),
                              absl::ToInt64Milliseconds(options_.lease_ttl));
  bool now_leader = held.ok() && *held;
  if (!held.ok()) {
    Logger("control")->warn("lease renewal failed holder={} error={}", options_.holder,
                            held.status().ToString());
  }
  if (now_leader != leader_.exchange(now_leader)) {
    Logger("control")->info("controller lease {} holder={}", now_leader ? "acquired" : "lost",
                            options_.holder);
  }
  return now_leader;
}

IterationSummary ControlLoop::RunOnce() {
  IterationSummary summary;
  summary.leader = RenewLease();
  iterations_++;
  if (!summary.leader) {
    // A standby keeps its view current so that its API answers and it can take over warm.
    state_->Sync().IgnoreError();
    return summary;
  }
  if (absl::Status s = state_->Sync(); !s.ok()) {
    Logger("control")->warn("state sync failed error={}", s.ToString());
    return summary;
  }
  summary.live = live_->ReconcileAll();
  state_->Sync().IgnoreError();
  summary.shadow = shadow_->ReconcileAll();
  absl::Time now = clock_->Now();
  if (now - last_orphan_collection_ >= options_.orphan_interval) {
    last_orphan_collection_ = now;
    if (absl::Status s = shadow_->CollectOrphans(); !s.ok()) {
      Logger("control")->warn("orphan collection incomplete error={}", s.ToString());
    }
  }
  return summary;
}

void ControlLoop::Start() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = false;
  }
  reconcile_thread_ = std::thread([this] { ReconcileThread(); });
  for (const Task& task : tasks_) {
    task_threads_.emplace_back([this, &task] { TaskThread(task); });
  }
}

void ControlLoop::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      return;
    }
    stopping_ = true;
  }
  if (reconcile_thread_.joinable()) {
    reconcile_thread_.join();
  }
  for (std::thread& thread : task_threads_) {
    thread.join();
  }
  task_threads_.clear();
  if (leader_.exchange(false)) {
    store_->ReleaseLease(kLeaseName, options_.holder).IgnoreError();
    Logger("control")->info("controller lease released holder={}", options_.holder);
  }
}

void ControlLoop::Nudge() {
  absl::MutexLock lock(&mu_);
  nudged_ = true;
}

bool ControlLoop::WaitFor(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || nudged_; };
  mu_.AwaitWithTimeout(absl::Condition(&woken), timeout);
  nudged_ = false;
  return !stopping_;
}

void ControlLoop::ReconcileThread() {
  while (true) {
    IterationSummary summary = RunOnce();
    if (!WaitFor(summary.changed() ? kRequeueDelay : options_.interval)) {
      return;
    }
  }
}

void ControlLoop::AddTask(std::string name, absl::Duration interval, std::function<void()> task) {
  tasks_.push_back({std::move(name), interval, std::move(task)});
}

void ControlLoop::TaskThread(const Task& task) {
  auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping), task.interval)) {
        return;
      }
    }
    if (leader_.load()) {
      task.run();
    }
  }
}

}  // namespace shadowfleet

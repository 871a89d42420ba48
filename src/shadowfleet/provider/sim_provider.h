// The simulated provider: a fleet held in memory, for scale tests and demos of 100,000
// instances. Builds and applies take configurable simulated time on the injected clock, and
// failures are injected at configurable rates from a seeded random source, so a run is
// reproducible.
#pragma once

#include <memory>
#include <random>
#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

#include "shadowfleet/provider/provider.h"

namespace shadowfleet {

// The simulated cloud: every sim replica of a daemon, whichever group it belongs to. Its state
// is in memory only; a restarted daemon starts with an empty simulated cloud. Thread-safe.
class SimCloud {
 public:
  explicit SimCloud(Clock* clock) : clock_(clock) {}

  struct SimReplica {
    std::string instance_id;
    std::string group;
    Role role = Role::kShadow;
    absl::Time created_at;
    absl::Time ready_at;
    absl::Time crash_at = absl::InfiniteFuture();
    int64_t version = 0;
    int64_t pending_version = 0;
    absl::Time apply_done_at;
    bool failed = false;
    std::string failure;
    std::optional<nlohmann::json> drift;  // Out-of-band configuration change, for Observe().
    double error_rate = 0;                // Share of synthetic requests that fail.
    double latency = 0.010;               // Seconds per synthetic request.
  };

  Clock* clock() const { return clock_; }
  size_t size() const;

  // Test and demo hooks.
  bool Crash(const std::string& replica_id, const std::string& reason);
  bool SetDrift(const std::string& replica_id, nlohmann::json partial_configuration);
  bool SetBehaviour(const std::string& replica_id, double error_rate, double latency_seconds);

  // Synthetic request counters of a running replica: 100 requests per simulated second since
  // it became ready, failing at its error rate, each taking its latency. NOT_FOUND when the
  // replica does not exist or is not running.
  absl::StatusOr<ReplicaCounters> Counters(const std::string& replica_id) const;

 private:
  friend class SimProvider;
  Clock* const clock_;
  mutable absl::Mutex mu_;
  std::unordered_map<std::string, SimReplica> replicas_ ABSL_GUARDED_BY(mu_);
};

class SimProvider : public Provider {
 public:
  SimProvider(GroupSpec group, SimCloud* cloud);

  const char* name() const override { return "sim"; }
  absl::StatusOr<Replica> Create(const CreateRequest& request) override;
  absl::StatusOr<Replica> Apply(const Replica& replica, const ApplyRequest& request) override;
  absl::StatusOr<ReplicaStatus> Check(const Replica& replica) override;
  absl::Status Terminate(const Replica& replica) override;
  absl::StatusOr<std::vector<ListedReplica>> List() override;
  absl::StatusOr<std::optional<nlohmann::json>> Observe(const Replica& replica) override;
  absl::StatusOr<VolumeSyncResult> SyncVolume(const Replica& source, const Replica& target,
                                              const VolumeSpec& volume) override;

 private:
  bool Chance(double probability) ABSL_EXCLUSIVE_LOCKS_REQUIRED(rng_mu_);
  absl::Duration CrashDelay() ABSL_EXCLUSIVE_LOCKS_REQUIRED(rng_mu_);

  const GroupSpec group_;
  const SimProviderSettings settings_;
  SimCloud* const cloud_;
  absl::Mutex rng_mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(rng_mu_);
};

}  // namespace shadowfleet

// The provider interface: how shadowfleet creates, configures, checks and removes the
// replicas that run an instance, whatever runs them — local processes, a simulated fleet, or
// any cloud through the exec plug-in protocol.
//
// Operations may be asynchronous on the provider's side: Create() may return while the
// replica is still building, and Check() reports its progress. The reconcilers poll; they
// never wait inside a provider call longer than the call itself takes.
//
// Implementations must be thread-safe: reconcile workers call them concurrently (never for
// the same replica at once).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include <nlohmann/json.hpp>

#include "shadowfleet/fleet/records.h"
#include "shadowfleet/spec/fleet_spec.h"

namespace shadowfleet {

class Clock;
class SimCloud;

struct CreateRequest {
  std::string replica_id;
  std::string instance_id;
  std::string fleet;
  std::string group;
  Role role = Role::kShadow;
  nlohmann::json configuration;  // The full document of `version`.
  int64_t version = 0;
};

struct ApplyRequest {
  nlohmann::json configuration;  // The full document of `version`.
  nlohmann::json delta;          // RFC 6902 patch from the replica's previous version.
  int64_t version = 0;
};

enum class ReplicaPhase {
  kBuilding,  // Created, not yet running.
  kRunning,
  kFailed,  // Exists but will not run (crashed, failed to build).
  kGone,    // The provider has no such replica.
};
const char* ReplicaPhaseName(ReplicaPhase phase);

struct ReplicaStatus {
  ReplicaPhase phase = ReplicaPhase::kBuilding;
  bool healthy = false;          // Meaningful when running: the health check passed.
  int64_t applied_version = -1;  // -1 when the provider cannot tell.
  std::string detail;            // Why not healthy, or what it is doing.
};

// A replica the provider knows of, found by List(): used to adopt live instances and to find
// orphans (replicas created just before a crash, before the store recorded them).
struct ListedReplica {
  std::string instance_id;
  std::string group;
  Role role = Role::kLive;
  Replica replica;
};

// A replica's cumulative request counters, as a canary judgement reads them.
struct ReplicaCounters {
  double requests = 0;
  double errors = 0;
  double latency_sum = 0;  // Seconds.
  double latency_count = 0;
};

struct VolumeSyncResult {
  absl::Time synced_as_of;  // The copy now holds the source's data as of this time.
  int64_t files_copied = 0;
  int64_t bytes_copied = 0;
};

class Provider {
 public:
  virtual ~Provider() = default;

  virtual const char* name() const = 0;

  // Starts building a replica. The returned Replica is recorded by the caller; the replica
  // may still be building. Errors: UNAVAILABLE (try again later), INVALID_ARGUMENT (the
  // request cannot succeed as given).
  virtual absl::StatusOr<Replica> Create(const CreateRequest& request) = 0;

  // Brings `replica` to `request.version`. Idempotent: applying the version a replica already
  // runs is a no-op or a harmless re-apply. Returns the replica, possibly with changed
  // provider state (a restarted process has a new pid).
  virtual absl::StatusOr<Replica> Apply(const Replica& replica, const ApplyRequest& request) = 0;

  // Reports the replica's phase and health. Errors only when the provider itself could not be
  // asked; an unhealthy or vanished replica is a status, not an error.
  virtual absl::StatusOr<ReplicaStatus> Check(const Replica& replica) = 0;

  // Removes the replica. Idempotent: removing a replica that is gone succeeds.
  virtual absl::Status Terminate(const Replica& replica) = 0;

  // Every replica of this provider's group that the provider knows of.
  virtual absl::StatusOr<std::vector<ListedReplica>> List() = 0;

  // Reads the replica's actual configuration (installed software versions, configuration
  // values), or nullopt if this provider cannot observe it. The result is merged over the
  // ledger's latest document (RFC 7386), so a provider may report only some fields.
  virtual absl::StatusOr<std::optional<nlohmann::json>> Observe(const Replica& replica) = 0;

  // Brings `target`'s copy of `volume` up to date with `source`'s.
  virtual absl::StatusOr<VolumeSyncResult> SyncVolume(const Replica& source, const Replica& target,
                                                      const VolumeSpec& volume) = 0;
};

// What every provider may need from its host daemon.
struct ProviderEnvironment {
  std::string state_dir;  // The daemon's state directory.
  std::string bin_dir;    // Directory of the shadowfleet executable.
  Clock* clock = nullptr;
  SimCloud* sim_cloud = nullptr;  // Shared by every sim group of the daemon.
};

// Builds the provider for `group` (one instance per group, owning a copy of its settings).
absl::StatusOr<std::unique_ptr<Provider>> MakeProvider(const GroupSpec& group,
                                                       const ProviderEnvironment& environment);

}  // namespace shadowfleet

// Readiness: can an instance's shadow take over from live right now, and if not, why not.
// A shadow is ready when it runs, passes its health check, holds the configuration version
// its shadowing policy targets, and every data volume copy is within its allowed lag.
//
// Pure functions of stored state and the time; no I/O.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include <nlohmann/json.hpp>

#include "shadowfleet/fleet/fleet_state.h"

namespace shadowfleet {

enum class ReadinessReason {
  kReady,
  kNoLive,     // There is no live replica to shadow yet.
  kNoShadow,   // Not created yet.
  kBuilding,   // Created, not yet running and healthy.
  kApplying,   // Applying a version.
  kBehind,     // Healthy but not yet at the target version.
  kUnhealthy,  // Failing its health check.
  kFailed,     // The last operation failed; retried with backoff.
  kDataStale,  // A data volume copy is older than its allowed lag.
  kRemoved,    // The instance is being removed from the fleet.
};
const char* ReadinessReasonName(ReadinessReason reason);

struct Readiness {
  std::string instance_id;
  std::string group;
  bool ready = false;
  ReadinessReason reason = ReadinessReason::kNoShadow;
  std::string detail;
  int64_t live_version = 0;
  int64_t shadow_version = 0;
  int64_t target_version = 0;
  int64_t versions_behind = 0;  // live_version - shadow_version.
  double seconds_behind = 0;    // Age of the oldest live version the shadow lacks.
  double data_lag_seconds = 0;  // Worst volume; 0 without volumes.

  nlohmann::json ToJson() const;
};

struct FleetReadiness {
  int live_instances = 0;
  int ready_shadows = 0;
  double ready_ratio = 0;  // ready_shadows / live_instances; 1 for an empty fleet.
  int64_t max_versions_behind = 0;
  double max_seconds_behind = 0;
  double max_data_lag_seconds = 0;
  std::map<std::string, int> by_reason;

  nlohmann::json ToJson() const;
};

// The version a shadow should hold under its group's policy: live's version for
// kImmediate, the newest version marked tested (not beyond live's) for kAfterTested.
int64_t ShadowTargetVersion(const GroupSpec& group, const InstanceRecord& instance,
                            const VersionHead& head);

// `behind_since` is when the oldest version the shadow lacks was recorded (InfinitePast if
// unknown); the caller looks it up in the ledger only when the shadow is behind.
Readiness ComputeReadiness(const InstanceRecord& instance, const ShadowRecord* shadow,
                           const GroupSpec* group, const std::optional<VersionHead>& head,
                           const std::vector<const VolumeStatus*>& volumes, absl::Time now,
                           absl::Time behind_since);

using VersionTimeFn = std::function<absl::Time(const std::string&, int64_t)>;

// Readiness of one instance of `state`, or nullopt if there is no such instance.
std::optional<Readiness> ComputeInstanceReadiness(const FleetState& state,
                                                  const std::string& instance_id, absl::Time now,
                                                  const VersionTimeFn& version_time);

// Readiness of every instance in `state`, and the fleet summary. Looks up version times in
// the ledger through `behind_since` (may be null: seconds_behind is then 0).
struct ReadinessReport {
  std::vector<Readiness> instances;
  FleetReadiness fleet;
};
ReadinessReport ComputeFleetReadiness(const FleetState& state, absl::Time now,
                                      const VersionTimeFn& version_time);

}  // namespace shadowfleet

// The fleet's state as stored: one InstanceRecord per instance (the fleet slot whose
// configuration history the ledger keeps), its live and shadow replicas, and the freshness of
// each shadow data volume. Every record serialises to JSON for the store and the API.
//
// An *instance* (e.g. "web-0") outlives its replicas: a switchover makes the shadow replica
// the new live one, and the instance keeps its ledger.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include <nlohmann/json.hpp>

namespace shadowfleet {

enum class Role { kLive, kShadow };
const char* RoleName(Role role);

// One provider resource running a copy of an instance.
struct Replica {
  std::string id;           // Unique and stable, e.g. "web-0-s3" (third shadow of web-0).
  std::string provider_id;  // The provider's own identifier (pid, cloud instance id ...).
  std::string endpoint;     // host:port for health checks and traffic; may be empty.
  nlohmann::json provider_state = nlohmann::json::object();  // Provider-private.
  absl::Time created_at = absl::InfinitePast();

  nlohmann::json ToJson() const;
  static absl::StatusOr<Replica> FromJson(const nlohmann::json& j);
};

enum class LivePhase { kPending, kCreating, kRunning, kUnhealthy, kLost };
const char* LivePhaseName(LivePhase phase);

struct InstanceRecord {
  std::string id;
  std::string fleet;
  std::string group;
  int index = 0;
  std::optional<Replica> live;
  LivePhase live_phase = LivePhase::kPending;
  absl::Time live_phase_since = absl::InfinitePast();
  int64_t live_version = 0;  // The ledger version live is known to run.
  std::string live_error;
  int live_health_failures = 0;
  int64_t next_replica_number = 1;  // For replica ids.
  int64_t spec_generation = 0;      // The fleet generation last rendered into the ledger.
  absl::Time created_at = absl::InfinitePast();
  absl::Time last_refreshed = absl::InfinitePast();  // When live was last replaced.
  std::optional<double> risk_score;                  // Set by the prediction engine.
  bool removed = false;  // No longer in any spec; its replicas are being torn down.
  // The switchover that owns the live/shadow pair while it moves traffic; while set, the live
  // and shadow managers leave both replicas alone.
  std::string active_switchover;

  // Returns a new replica id for `role` and advances the counter.
  std::string NextReplicaId(Role role);

  nlohmann::json ToJson() const;
  static absl::StatusOr<InstanceRecord> FromJson(const nlohmann::json& j);
};

enum class ShadowPhase {
  kPending,    // No replica yet.
  kBuilding,   // Created; waiting for it to run and pass its health check.
  kApplying,   // Applying target_version.
  kReady,      // At its target version, healthy.
  kUnhealthy,  // Failing its health check.
  kFailed,     // An operation failed; retried with backoff.
};
const char* ShadowPhaseName(ShadowPhase phase);

struct ShadowRecord {
  std::string instance_id;
  std::optional<Replica> replica;
  ShadowPhase phase = ShadowPhase::kPending;
  int64_t version = 0;         // The version the shadow runs (0: none yet).
  int64_t target_version = 0;  // The version being built or applied.
  std::string last_error;
  int failures = 0;  // Consecutive failed operations; drives the backoff.
  absl::Time next_attempt_at = absl::InfinitePast();
  int health_failures = 0;  // Consecutive failed health checks.
  absl::Time unhealthy_since = absl::InfinitePast();
  absl::Time phase_since = absl::InfinitePast();
  absl::Time last_health_check = absl::InfinitePast();
  int64_t replacements = 0;

  nlohmann::json ToJson() const;
  static absl::StatusOr<ShadowRecord> FromJson(const nlohmann::json& j);
};

// How fresh a shadow's copy of one data volume is.
struct VolumeStatus {
  std::string instance_id;
  std::string volume;
  std::string shadow_replica;                      // The shadow replica this copy belongs to.
  absl::Time synced_as_of = absl::InfinitePast();  // The copy holds live's data as of then.
  absl::Time last_attempt = absl::InfinitePast();
  std::string last_error;
  int64_t files_copied = 0;
  int64_t bytes_copied = 0;

  nlohmann::json ToJson() const;
  static absl::StatusOr<VolumeStatus> FromJson(const nlohmann::json& j);
};

// Store object kinds.
inline constexpr char kInstanceObject[] = "instance";
inline constexpr char kShadowObject[] = "shadow";
inline constexpr char kVolumeObject[] = "volume";
inline constexpr char kFleetObject[] = "fleet";

// The store name of a volume status: "<instance>/<volume>".
std::string VolumeKey(const std::string& instance_id, const std::string& volume);

// Time as stored: Unix milliseconds, with 0 for "never".
int64_t TimeToJson(absl::Time t);
absl::Time TimeFromJson(int64_t ms);
// Time as shown to users: RFC 3339, or null for "never".
nlohmann::json TimeToDisplay(absl::Time t);

}  // namespace shadowfleet

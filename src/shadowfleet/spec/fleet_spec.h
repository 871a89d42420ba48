// The fleet spec: what the user declares about a fleet, as a Kubernetes-style resource
// (apiVersion, kind, metadata, spec). A fleet is a set of instance groups; each group says how
// its instances are built (type, OS, software stack, configuration, data volumes), which
// provider runs them, how their health is checked and how their shadows are kept.
//
// These are plain values produced by ParseFleetSpec() (spec_parser.h), which rejects anything
// it does not recognise. Nothing here touches the outside world.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/time/time.h"
#include <nlohmann/json.hpp>

namespace shadowfleet {

inline constexpr char kApiVersion[] = "shadowfleet.dev/v1alpha1";
inline constexpr char kFleetKind[] = "Fleet";

struct PackageSpec {
  std::string name;
  std::string version;
};

struct OsSpec {
  std::string name;
  std::string version;
};

enum class VolumeSyncMethod { kCopy, kCommand };

// A data volume of a stateful instance, and how the shadow's copy is kept fresh.
struct VolumeSpec {
  std::string name;
  std::string path;  // For the process provider: relative to the replica's directory.
  VolumeSyncMethod method = VolumeSyncMethod::kCopy;
  // For kCommand: argv run without a shell; "{source}", "{target}", "{instance}" and
  // "{volume}" are substituted.
  std::vector<std::string> command;
  absl::Duration interval = absl::Seconds(10);
  // The shadow is not ready while its copy is older than this.
  absl::Duration max_lag = absl::Seconds(60);
};

struct HealthCheckSpec {
  std::string path = "/healthz";
  absl::Duration interval = absl::Seconds(5);
  absl::Duration timeout = absl::Seconds(1);
  int failure_threshold = 3;  // Consecutive failures before a replica counts as unhealthy.
};

enum class ShadowApplyPolicy {
  kImmediate,    // A new live version is applied to the shadow right after it is recorded.
  kAfterTested,  // Only versions marked tested on live are applied to the shadow.
};

struct ShadowingSpec {
  ShadowApplyPolicy apply = ShadowApplyPolicy::kImmediate;
  // An unhealthy shadow is replaced after being unhealthy this long.
  absl::Duration replace_unhealthy_after = absl::Seconds(60);
  // A shadow still building after this long is replaced.
  absl::Duration build_timeout = absl::Minutes(10);
};

enum class LiveMode {
  kManaged,  // shadowfleet creates the live instances from the spec (local and simulated fleets).
  kAdopted,  // Live instances already exist; the provider lists them.
};

enum class ConfigChangeAction { kRestart, kReload };

struct ProcessProviderSettings {
  // argv template; placeholders: {port} {config} (the rendered configuration file) {dir} (the
  // replica's directory; volume paths are relative to it) {instance} {replica} {role} {bin}
  // (the directory of the shadowfleet executable).
  std::vector<std::string> command;
  std::map<std::string, std::string> env;
  std::string work_dir;  // Empty: "<daemon state dir>/replicas".
  ConfigChangeAction on_config_change = ConfigChangeAction::kRestart;
  int reload_signal = 1;  // SIGHUP
  absl::Duration stop_grace_period = absl::Seconds(5);
};

struct SimProviderSettings {
  absl::Duration build_delay = absl::Seconds(30);
  absl::Duration apply_delay = absl::Seconds(2);
  double create_failure_rate = 0;  // Probability that a create ends in a failed replica.
  double apply_failure_rate = 0;   // Probability that applying a version fails.
  double crash_rate_per_hour = 0;  // Per running replica.
  double data_sync_lag_seconds = 0;
  uint64_t seed = 1;
};

struct ExecProviderSettings {
  std::vector<std::string> command;  // The plug-in's argv; the operation name is appended.
  std::map<std::string, std::string> env;
  absl::Duration timeout = absl::Seconds(60);
};

using ProviderSettings =
    std::variant<ProcessProviderSettings, SimProviderSettings, ExecProviderSettings>;

struct ProviderSpec {
  std::string name;  // "process", "sim" or "exec".
  ProviderSettings settings;
};

struct GroupSpec {
  std::string name;
  int replicas = 0;
  std::string instance_type;
  OsSpec os;
  std::vector<PackageSpec> software;
  nlohmann::json configuration = nlohmann::json::object();
  std::vector<VolumeSpec> volumes;
  ProviderSpec provider;
  HealthCheckSpec health_check;
  ShadowingSpec shadowing;
  LiveMode live_mode = LiveMode::kManaged;
};

struct FleetSpec {
  std::string name;
  std::map<std::string, std::string> labels;
  std::vector<GroupSpec> groups;
};

// The id of the index-th instance of a managed group: "<group>-<index>".
std::string InstanceIdFor(const std::string& group, int index);

// The configuration document of a fresh instance of `group`: the structured document whose
// versions the ledger keeps. Keys: instanceType, os, software (name -> version), config.
nlohmann::json RenderConfiguration(const GroupSpec& group);

const GroupSpec* FindGroup(const FleetSpec& fleet, const std::string& group_name);

}  // namespace shadowfleet

// The daemon's own configuration (`shadowfleet serve --config FILE`): a `kind: Daemon`
// resource saying where to listen, where state lives and how often to reconcile. Fleet specs
// are separate resources, applied through the API (or listed here to apply at start-up).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "shadowfleet/spec/yaml_decoder.h"

namespace shadowfleet {

inline constexpr char kDaemonKind[] = "Daemon";

struct DaemonConfig {
  std::string name = "shadowfleet";
  std::string listen = "127.0.0.1:7070";  // host:port; port 0 picks a free port.
  std::string state_dir = "shadowfleet-state";
  std::string sqlite_path;  // Default: <state_dir>/state.db.
  bool sqlite_synchronous_full = true;
  std::vector<std::string> fleet_specs;  // Applied at start-up; relative to the config file.
  absl::Duration reconcile_interval = absl::Seconds(1);
  absl::Duration observe_interval = absl::Seconds(30);
  absl::Duration orphan_collection_interval = absl::Minutes(1);
  absl::Duration lease_ttl = absl::Seconds(15);
  int workers = 4;
  std::string log_level = "info";
  std::string log_file;
  int per_instance_metrics_limit = 10'000;  // Above this many instances, only fleet gauges.
  // What {bin} means in provider commands. Default: the shadowfleet executable's directory.
  std::string bin_dir;
  // The prediction engine.
  absl::Duration risk_horizon = absl::Minutes(30);
  absl::Duration risk_interval = absl::Seconds(5);     // How often every instance is scored.
  absl::Duration example_interval = absl::Minutes(1);  // Training examples per instance.
  absl::Duration retrain_interval = absl::Hours(24);
  absl::Duration retrain_check_interval = absl::Hours(1);  // Drift and new failures.
  std::string advisories_dir;  // OSV advisories (*.json); empty: no vulnerability data.
};

// Parses a Daemon document. Relative paths are resolved against `base_dir`. Errors name the
// file, line, column and field, like fleet spec errors.
absl::StatusOr<DaemonConfig> ParseDaemonConfig(const std::string& text, const std::string& file,
                                               const std::string& base_dir);

absl::StatusOr<DaemonConfig> LoadDaemonConfig(const std::string& path);

}  // namespace shadowfleet

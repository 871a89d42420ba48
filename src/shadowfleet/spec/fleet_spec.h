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
  // For kCommand: argv run without a shell; "{source}", "{target}", "{instance}" (the
  // target replica's id, e.g. "web-0-s3") and "{volume}" are substituted.
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

struct HaproxyRouterSettings {
  // The runtime API socket: "unix:/run/haproxy/admin.sock" or "host:port".
  std::string socket;
  std::string backend;        // The HAProxy backend holding the group's servers.
  int full_weight = 100;      // HAProxy weight of a whole instance slot (1..256).
  bool health_checks = true;  // Enable HAProxy's health checks on servers it adds.
  absl::Duration timeout = absl::Seconds(2);
};

struct ExecRouterSettings {
  std::vector<std::string> command;  // The plug-in's argv; the operation name is appended.
  std::map<std::string, std::string> env;
  absl::Duration timeout = absl::Seconds(30);
};

// "none": the provider moves traffic itself (or nothing routes to the group).
struct NoRouterSettings {};

struct RouterSpec {
  std::string name = "none";  // "haproxy", "exec" or "none".
  std::variant<NoRouterSettings, HaproxyRouterSettings, ExecRouterSettings> settings;
};

struct ProviderSpec {
  std::string name;  // "process", "sim" or "exec".
  ProviderSettings settings;
};

// Selects the samples of one metric: label matchers written as name -> pattern, where the
// pattern "x" means equal to x, "!x" not equal, "~re" matches the regular expression (the
// whole value) and "!~re" does not.
struct MetricTermSpec {
  std::string metric;
  std::map<std::string, std::string> match;
  bool rate = false;  // Per-second rate of a counter instead of the sampled value.
  enum class Aggregate { kSum, kMean, kMax, kMin } aggregate = Aggregate::kSum;
};

// One input of the prediction engine computed from scraped metrics:
// value = scale * term / divideBy, then 1 - value if `complement`.
struct FeatureSpec {
  std::string name;
  MetricTermSpec term;
  std::optional<MetricTermSpec> divide_by;
  bool complement = false;
  double scale = 1;
  // For bounded resources (memory, disk): the value at which the resource is exhausted;
  // the engine forecasts when the feature will reach it.
  std::optional<double> limit;
};

struct ScrapeTargetSpec {
  std::string path = "/metrics";
  int port = 0;  // 0: the live replica's own endpoint; otherwise this port on its host.
  absl::Duration interval = absl::Seconds(10);
  absl::Duration timeout = absl::Seconds(2);
};

struct TelemetrySpec {
  std::vector<ScrapeTargetSpec> scrape;
  std::vector<FeatureSpec> features;  // In addition to the defaults, or replacing one by name.
  bool default_features = true;       // node_exporter and HTTP-server metrics.
};

// How a switchover moves an instance's traffic to its shadow, and how each step is judged.
struct SwitchoverSpec {
  enum class Strategy { kCanary, kBlueGreen };
  enum class OnInconclusive { kFail, kPause };
  Strategy strategy = Strategy::kCanary;
  int initial_weight = 10;  // Percent of the instance's traffic at the first canary step.
  int step_weight = 10;     // Added at each passed step.
  absl::Duration step_interval = absl::Seconds(30);
  absl::Duration sample_interval = absl::Seconds(1);
  int min_samples = 10;  // Per replica per judgement; fewer is inconclusive.
  int max_failed_judgements = 1;
  OnInconclusive on_inconclusive = OnInconclusive::kFail;
  // Blue/green: the preview weight and how long the preview is analysed.
  int preview_weight = 5;
  absl::Duration preview_duration = absl::Seconds(60);
  absl::Duration bake_time = absl::Seconds(60);  // At 100 % before the old replica is retired.
  absl::Duration progress_deadline = absl::Minutes(15);
  // Judgement limits.
  double max_error_rate = 0.05;           // Of the new replica, absolute.
  double max_error_rate_increase = 0.01;  // Over the old replica.
  double max_latency_increase = 0.25;     // Relative increase of mean latency.
  double max_variance_ratio = 4.0;        // Latency variance, new over old.
  double confidence = 0.95;               // Of the Mann-Whitney U test.
  // Metric names on each replica's metrics endpoint.
  std::string metrics_path = "/metrics";
  std::string requests_metric = "http_requests_total";
  std::string error_codes = "5..";  // Regular expression over the `code` label.
  std::string latency_metric = "http_request_duration_seconds";
  // Fleet limits for the group.
  int max_concurrent = 2;
  double min_healthy_share = 0.9;
  // Predictive trigger: refresh when the risk score exceeds this and the shadow is ready.
  double risk_threshold = 0.7;
  bool automatic = true;
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
  // A managed live replica lost this long (with no switchover taking over) is re-created from
  // the instance's configuration, as an auto-scaling group replaces a failed instance. Zero:
  // never.
  absl::Duration replace_lost_after = absl::ZeroDuration();
  TelemetrySpec telemetry;
  RouterSpec router;
  SwitchoverSpec switchover;
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

// The features computed for a group: the defaults (unless disabled), with the group's own
// features added or replacing a default of the same name. The default latency feature's limit
// is the group's health-check timeout: a replica that slow fails its health checks.
std::vector<FeatureSpec> EffectiveFeatures(const GroupSpec& group);

}  // namespace shadowfleet

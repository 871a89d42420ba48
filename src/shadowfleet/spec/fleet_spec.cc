#include "shadowfleet/spec/fleet_spec.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace shadowfleet {

std::string InstanceIdFor(const std::string& group, int index) {
  return absl::StrCat(group, "-", index);
}

nlohmann::json RenderConfiguration(const GroupSpec& group) {
  nlohmann::json software = nlohmann::json::object();
  for (const PackageSpec& package : group.software) {
    software[package.name] = package.version;
  }
  return {
      {"instanceType", group.instance_type},
      {"os", {{"name", group.os.name}, {"version", group.os.version}}},
      {"software", std::move(software)},
      {"config", group.configuration},
  };
}

const GroupSpec* FindGroup(const FleetSpec& fleet, const std::string& group_name) {
  for (const GroupSpec& group : fleet.groups) {
    if (group.name == group_name) {
      return &group;
    }
  }
  return nullptr;
}

std::vector<FeatureSpec> EffectiveFeatures(const GroupSpec& group) {
  const TelemetrySpec& telemetry = group.telemetry;
  using Aggregate = MetricTermSpec::Aggregate;
  std::vector<FeatureSpec> features;
  if (telemetry.default_features) {
    // node_exporter's names, and the de-facto names of HTTP servers' own metrics.
    features.push_back({"cpu_utilisation",
                        {"node_cpu_seconds_total", {{"mode", "idle"}}, true, Aggregate::kMean},
                        std::nullopt,
                        true,
                        1,
                        std::nullopt});
    features.push_back({"memory_used_ratio",
                        {"node_memory_MemAvailable_bytes", {}, false, Aggregate::kSum},
                        MetricTermSpec{"node_memory_MemTotal_bytes", {}, false, Aggregate::kSum},
                        true,
                        1,
                        1.0});
    features.push_back(
        {"disk_used_ratio",
         {"node_filesystem_avail_bytes", {{"mountpoint", "/"}}, false, Aggregate::kSum},
         MetricTermSpec{
             "node_filesystem_size_bytes", {{"mountpoint", "/"}}, false, Aggregate::kSum},
         true,
         1,
         1.0});
    features.push_back({"disk_io_utilisation",
                        {"node_disk_io_time_seconds_total", {}, true, Aggregate::kMax},
                        std::nullopt,
                        false,
                        1,
                        std::nullopt});
    features.push_back(
        {"network_latency_seconds",
         {"http_request_duration_seconds_sum", {}, true, Aggregate::kSum},
         MetricTermSpec{"http_request_duration_seconds_count", {}, true, Aggregate::kSum},
         false,
         1,
         absl::ToDoubleSeconds(group.health_check.timeout)});
    features.push_back({"error_rate",
                        {"http_requests_total", {{"code", "~5.."}}, true, Aggregate::kSum},
                        MetricTermSpec{"http_requests_total", {}, true, Aggregate::kSum},
                        false,
                        1,
                        std::nullopt});
    features.push_back({"process_memory_ratio",
                        {"process_resident_memory_bytes", {}, false, Aggregate::kSum},
                        MetricTermSpec{"process_memory_limit_bytes", {}, false, Aggregate::kSum},
                        false,
                        1,
                        1.0});
  }
  for (const FeatureSpec& own : telemetry.features) {
    auto same = std::find_if(features.begin(), features.end(),
                             [&](const FeatureSpec& f) { return f.name == own.name; });
    if (same != features.end()) {
      *same = own;
    } else {
      features.push_back(own);
    }
  }
  return features;
}

}  // namespace shadowfleet

#include "shadowfleet/demo/scenario.h"

#include <cmath>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/files.h"
#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/spec/fleet_spec.h"
#include "shadowfleet/spec/yaml_decoder.h"

namespace shadowfleet {
namespace {

// Resident memory of a fresh workload process; a leak must fill the rest of the limit.
constexpr double kBaselineMb = 12;

const std::set<std::string>& Modes() {
  static const auto* modes =
      new std::set<std::string>{"memory_leak", "latency_creep", "error_bursts", "disk_fill",
                                "slow_crash",  "sudden_crash",  "errors",       "slow"};
  return *modes;
}

}  // namespace

Scenario BuiltInScenario() {
  Scenario s;
  s.name = "built-in";
  s.instances = 6;
  s.duration = absl::Minutes(8);
  s.request_rate = 300;
  s.degradations = {
      {"memory_leak", 1, 1.5, 0, 0, absl::Seconds(60), absl::Seconds(180)},
      {"latency_creep", 1, 8, 0, 1200, absl::Seconds(90), absl::Seconds(240)},
      {"error_bursts", 1, 0, 150, 0, absl::Seconds(60), absl::Seconds(240)},
      {"disk_fill", 1, 0.4, 0, 0, absl::Seconds(60), absl::Seconds(200)},
      {"slow_crash", 1, 0, 150, 0, absl::Seconds(90), absl::Seconds(240)},
      {"sudden_crash", 1, 0, 0, 0, absl::Seconds(120), absl::Seconds(300)},
  };
  return s;
}

absl::StatusOr<Scenario> ParseScenario(const std::string& text, const std::string& file) {
  YamlDecoder d(file);
  std::vector<YAML::Node> documents = LoadYamlDocuments(text, d);
  if (d.ok() && documents.size() != 1) {
    d.FailAt(0, 0, "", "expected exactly one Scenario document");
  }
  if (!d.ok()) {
    return d.ToStatus();
  }
  const YAML::Node& doc = documents.front();
  Scenario s;
  s.degradations.clear();
  if (!d.ExpectMap(doc, "")) {
    return d.ToStatus();
  }
  d.RejectUnknownKeys(doc, "", {"apiVersion", "kind", "metadata", "spec"});
  std::string api_version, kind;
  if (d.String(doc, "apiVersion", "", &api_version, true) && api_version != kApiVersion) {
    d.Fail(doc["apiVersion"], "apiVersion", std::string("expected ") + kApiVersion);
  }
  if (d.String(doc, "kind", "", &kind, true) && kind != kScenarioKind) {
    d.Fail(doc["kind"], "kind", "expected kind Scenario, got \"" + kind + "\"");
  }
  YAML::Node metadata = doc["metadata"];
  if (metadata.IsDefined() && d.ExpectMap(metadata, "metadata")) {
    d.RejectUnknownKeys(metadata, "metadata", {"name"});
    d.String(metadata, "name", "metadata", &s.name);
  }
  YAML::Node spec = doc["spec"];
  if (!spec.IsDefined()) {
    d.Fail(doc, "spec", "required field is missing");
    return d.ToStatus();
  }
  if (!d.ExpectMap(spec, "spec")) {
    return d.ToStatus();
  }
  d.RejectUnknownKeys(
      spec, "spec",
      {"instances", "duration", "requestRate", "memoryLimitMb", "diskQuotaMb", "degradations"});
  d.Int(spec, "instances", "spec", &s.instances, 2, 50);
  d.Duration(spec, "duration", "spec", &s.duration, absl::Seconds(10));
  d.Double(spec, "requestRate", "spec", &s.request_rate, 1, 100000);
  d.Int(spec, "memoryLimitMb", "spec", &s.memory_limit_mb, 32, 65536);
  d.Int(spec, "diskQuotaMb", "spec", &s.disk_quota_mb, 1, 65536);
  YAML::Node list = spec["degradations"];
  if (list.IsDefined() && d.ExpectSequence(list, "spec.degradations")) {
    for (size_t i = 0; i < list.size(); ++i) {
      std::string path = YamlDecoder::Index("spec.degradations", i);
      if (!d.ExpectMap(list[i], path)) {
        continue;
      }
      d.RejectUnknownKeys(list[i], path,
                          {"mode", "count", "rate", "seconds", "ceilingMs", "window"});
      DegradationSpec g;
      if (d.String(list[i], "mode", path, &g.mode, /*required=*/true) &&
          Modes().count(g.mode) == 0) {
        d.Fail(list[i]["mode"], YamlDecoder::Join(path, "mode"),
               "unknown mode \"" + g.mode +
                   "\" (known: memory_leak, latency_creep, error_bursts, disk_fill, slow_crash, "
                   "sudden_crash, errors, slow)");
      }
      d.Int(list[i], "count", path, &g.count, 0, 1000);
      d.Double(list[i], "rate", path, &g.rate, 0, 1e6);
      d.Double(list[i], "seconds", path, &g.seconds, 0, 1e6);
      d.Double(list[i], "ceilingMs", path, &g.ceiling_ms, 1, 1e6);
      YAML::Node window = list[i]["window"];
      std::string window_path = YamlDecoder::Join(path, "window");
      if (window.IsDefined() && d.ExpectMap(window, window_path)) {
        d.RejectUnknownKeys(window, window_path, {"from", "to"});
        d.Duration(window, "from", window_path, &g.window_start);
        d.Duration(window, "to", window_path, &g.window_end);
        if (g.window_end < g.window_start) {
          d.Fail(window, window_path, "to must not be before from");
        }
      }
      s.degradations.push_back(g);
    }
  }
  if (!d.ok()) {
    return d.ToStatus();
  }
  for (const DegradationSpec& g : s.degradations) {
    if (g.window_end > s.duration) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ": a ", g.mode, " window ends after the scenario's duration"));
    }
  }
  return s;
}

absl::StatusOr<Scenario> LoadScenario(const std::string& path) {
  SF_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseScenario(text, path);
}

double ExpectedFailureSeconds(const DegradationSpec& spec, const Scenario& scenario) {
  constexpr double kNever = std::numeric_limits<double>::infinity();
  if (spec.mode == "memory_leak") {
    return spec.rate > 0 ? (scenario.memory_limit_mb - kBaselineMb) / spec.rate : kNever;
  }
  if (spec.mode == "disk_fill") {
    return spec.rate > 0 ? scenario.disk_quota_mb / spec.rate : kNever;
  }
  if (spec.mode == "latency_creep") {
    return spec.rate > 0 ? spec.ceiling_ms / spec.rate : kNever;
  }
  if (spec.mode == "error_bursts" || spec.mode == "slow_crash" || spec.mode == "sudden_crash") {
    return spec.seconds;
  }
  return kNever;
}

bool GivesWarning(const DegradationSpec& spec) {
  return spec.mode != "sudden_crash";
}

}  // namespace shadowfleet

#include "shadowfleet/daemon/daemon_config.h"

#include <filesystem>

#include "shadowfleet/common/files.h"
#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/spec/fleet_spec.h"

namespace shadowfleet {
namespace {

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) {
    return path;
  }
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

}  // namespace

absl::StatusOr<DaemonConfig> ParseDaemonConfig(const std::string& text, const std::string& file,
                                               const std::string& base_dir) {
  YamlDecoder d(file);
  std::vector<YAML::Node> documents = LoadYamlDocuments(text, d);
  DaemonConfig config;
  if (d.ok() && documents.size() != 1) {
    d.FailAt(0, 0, "", "expected exactly one Daemon document");
  }
  if (!d.ok()) {
    return d.ToStatus();
  }
  const YAML::Node& doc = documents.front();
  if (!d.ExpectMap(doc, "")) {
    return d.ToStatus();
  }
  d.RejectUnknownKeys(doc, "", {"apiVersion", "kind", "metadata", "spec"});
  std::string api_version, kind;
  if (d.String(doc, "apiVersion", "", &api_version, true) && api_version != kApiVersion) {
    d.Fail(doc["apiVersion"], "apiVersion", std::string("expected ") + kApiVersion);
  }
  if (d.String(doc, "kind", "", &kind, true) && kind != kDaemonKind) {
    d.Fail(doc["kind"], "kind", "expected kind Daemon, got \"" + kind + "\"");
  }
  YAML::Node metadata = doc["metadata"];
  if (metadata.IsDefined() && d.ExpectMap(metadata, "metadata")) {
    d.RejectUnknownKeys(metadata, "metadata", {"name"});
    d.String(metadata, "name", "metadata", &config.name);
  }
  YAML::Node spec = doc["spec"];
  if (spec.IsDefined() && d.ExpectMap(spec, "spec")) {
    d.RejectUnknownKeys(spec, "spec",
                        {"listen", "stateDir", "store", "fleetSpecs", "reconcileInterval",
                         "observeInterval", "orphanCollectionInterval", "leaseTtl", "workers",
                         "logLevel", "logFile", "perInstanceMetricsLimit", "binDir", "prediction"});
    d.String(spec, "listen", "spec", &config.listen);
    d.String(spec, "stateDir", "spec", &config.state_dir);
    YAML::Node store = spec["store"];
    if (store.IsDefined() && d.ExpectMap(store, "spec.store")) {
      d.RejectUnknownKeys(store, "spec.store", {"sqlite"});
      YAML::Node sqlite = store["sqlite"];
      if (sqlite.IsDefined() && d.ExpectMap(sqlite, "spec.store.sqlite")) {
        d.RejectUnknownKeys(sqlite, "spec.store.sqlite", {"path", "synchronous"});
        d.String(sqlite, "path", "spec.store.sqlite", &config.sqlite_path);
        bool full = true;
        d.Enum(sqlite, "synchronous", "spec.store.sqlite", &full,
               {{"full", true}, {"normal", false}});
        config.sqlite_synchronous_full = full;
      }
    }
    d.StringList(spec, "fleetSpecs", "spec", &config.fleet_specs);
    d.Duration(spec, "reconcileInterval", "spec", &config.reconcile_interval,
               absl::Milliseconds(10));
    d.Duration(spec, "observeInterval", "spec", &config.observe_interval, absl::Milliseconds(100));
    d.Duration(spec, "orphanCollectionInterval", "spec", &config.orphan_collection_interval,
               absl::Seconds(1));
    d.Duration(spec, "leaseTtl", "spec", &config.lease_ttl, absl::Seconds(1));
    d.Int(spec, "workers", "spec", &config.workers, 1, 256);
    d.Enum(spec, "logLevel", "spec", &config.log_level,
           {{"trace", std::string("trace")},
            {"debug", std::string("debug")},
            {"info", std::string("info")},
            {"warn", std::string("warn")},
            {"error", std::string("error")}});
    d.String(spec, "logFile", "spec", &config.log_file);
    d.Int(spec, "perInstanceMetricsLimit", "spec", &config.per_instance_metrics_limit, 0,
          10'000'000);
    d.String(spec, "binDir", "spec", &config.bin_dir);
    YAML::Node prediction = spec["prediction"];
    if (prediction.IsDefined() && d.ExpectMap(prediction, "spec.prediction")) {
      const char* p = "spec.prediction";
      d.RejectUnknownKeys(prediction, p,
                          {"horizon", "scoreInterval", "exampleInterval", "retrainInterval",
                           "checkInterval", "advisoriesDir"});
      d.Duration(prediction, "horizon", p, &config.risk_horizon, absl::Seconds(10));
      d.Duration(prediction, "scoreInterval", p, &config.risk_interval, absl::Milliseconds(100));
      d.Duration(prediction, "exampleInterval", p, &config.example_interval, absl::Seconds(1));
      d.Duration(prediction, "retrainInterval", p, &config.retrain_interval, absl::Minutes(1));
      d.Duration(prediction, "checkInterval", p, &config.retrain_check_interval, absl::Seconds(10));
      d.String(prediction, "advisoriesDir", p, &config.advisories_dir);
    }
  }
  if (!d.ok()) {
    return d.ToStatus();
  }
  config.state_dir = Resolve(base_dir, config.state_dir);
  config.sqlite_path = config.sqlite_path.empty() ? config.state_dir + "/state.db"
                                                  : Resolve(base_dir, config.sqlite_path);
  config.log_file = Resolve(base_dir, config.log_file);
  config.bin_dir = Resolve(base_dir, config.bin_dir);
  config.advisories_dir = Resolve(base_dir, config.advisories_dir);
  for (std::string& path : config.fleet_specs) {
    path = Resolve(base_dir, path);
  }
  return config;
}

absl::StatusOr<DaemonConfig> LoadDaemonConfig(const std::string& path) {
  SF_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::string base = std::filesystem::path(path).parent_path().string();
  return ParseDaemonConfig(text, path, base.empty() ? "." : base);
}

}  // namespace shadowfleet

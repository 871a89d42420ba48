#include "shadowfleet/spec/spec_parser.h"

#include <csignal>
#include <regex>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace shadowfleet {
namespace {

using Y = YamlDecoder;

bool IsDnsLabel(const std::string& name) {
  static const std::regex kLabel("^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$");
  return std::regex_match(name, kLabel);
}

// Placeholders the process provider substitutes into its command template.
const std::set<std::string>& ProcessPlaceholders() {
  static const auto* names =
      new std::set<std::string>{"port", "config", "dir", "instance", "replica", "role", "bin"};
  return *names;
}

void CheckPlaceholders(YamlDecoder& d, const YAML::Node& list, const std::string& path,
                       const std::vector<std::string>& argv, const std::set<std::string>& known) {
  static const std::regex kPlaceholder("\\{([^{}]*)\\}");
  for (size_t i = 0; i < argv.size(); ++i) {
    for (std::sregex_iterator it(argv[i].begin(), argv[i].end(), kPlaceholder), end; it != end;
         ++it) {
      std::string name = (*it)[1];
      if (known.count(name) == 0) {
        d.Fail(list[i], Y::Index(path, i),
               absl::StrCat("unknown placeholder {", name, "} (known: {",
                            absl::StrJoin(known, "}, {"), "})"));
      }
    }
  }
}

void ParseProcessSettings(YamlDecoder& d, const YAML::Node& node, const std::string& path,
                          ProcessProviderSettings* out) {
  d.RejectUnknownKeys(
      node, path,
      {"command", "env", "workDir", "onConfigChange", "reloadSignal", "stopGracePeriod"});
  if (d.StringList(node, "command", path, &out->command, /*required=*/true)) {
    if (out->command.empty()) {
      d.Fail(node["command"], Y::Join(path, "command"), "must name a program to run");
    }
    CheckPlaceholders(d, node["command"], Y::Join(path, "command"), out->command,
                      ProcessPlaceholders());
  }
  d.StringMap(node, "env", path, &out->env);
  d.String(node, "workDir", path, &out->work_dir);
  d.Enum(node, "onConfigChange", path, &out->on_config_change,
         {{"restart", ConfigChangeAction::kRestart}, {"reload", ConfigChangeAction::kReload}});
  std::string signal_name;
  if (d.String(node, "reloadSignal", path, &signal_name)) {
    static const std::pair<std::string_view, int> kSignals[] = {
        {"SIGHUP", SIGHUP}, {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2}};
    bool found = false;
    for (const auto& [name, number] : kSignals) {
      if (name == signal_name) {
        out->reload_signal = number;
        found = true;
      }
    }
    if (!found) {
      d.Fail(node["reloadSignal"], Y::Join(path, "reloadSignal"),
             "must be one of SIGHUP, SIGUSR1, SIGUSR2, got \"" + signal_name + "\"");
    }
  }
  d.Duration(node, "stopGracePeriod", path, &out->stop_grace_period);
}

void ParseSimSettings(YamlDecoder& d, const YAML::Node& node, const std::string& path,
                      SimProviderSettings* out) {
  d.RejectUnknownKeys(node, path,
                      {"buildDelay", "applyDelay", "createFailureRate", "applyFailureRate",
                       "crashRatePerHour", "dataSyncLagSeconds", "seed"});
  d.Duration(node, "buildDelay", path, &out->build_delay);
  d.Duration(node, "applyDelay", path, &out->apply_delay);
  d.Double(node, "createFailureRate", path, &out->create_failure_rate, 0, 1);
  d.Double(node, "applyFailureRate", path, &out->apply_failure_rate, 0, 1);
  d.Double(node, "crashRatePerHour", path, &out->crash_rate_per_hour, 0, 3600);
  d.Double(node, "dataSyncLagSeconds", path, &out->data_sync_lag_seconds, 0, 1e9);
  d.Uint64(node, "seed", path, &out->seed);
}

void ParseExecSettings(YamlDecoder& d, const YAML::Node& node, const std::string& path,
                       ExecProviderSettings* out) {
  d.RejectUnknownKeys(node, path, {"command", "env", "timeout"});
  if (d.StringList(node, "command", path, &out->command, /*required=*/true) &&
      out->command.empty()) {
    d.Fail(node["command"], Y::Join(path, "command"), "must name the plug-in to run");
  }
  d.StringMap(node, "env", path, &out->env);
  d.Duration(node, "timeout", path, &out->timeout, absl::Milliseconds(10));
}

void ParseProvider(YamlDecoder& d, const YAML::Node& group, const std::string& group_path,
                   ProviderSpec* out) {
  std::string path = Y::Join(group_path, "provider");
  YAML::Node node = group["provider"];
  if (!node.IsDefined()) {
    d.Fail(group, path, "required field is missing");
    return;
  }
  if (!d.ExpectMap(node, path)) {
    return;
  }
  d.RejectUnknownKeys(node, path, {"name", "settings"});
  if (!d.String(node, "name", path, &out->name, /*required=*/true)) {
    return;
  }
  YAML::Node settings = node["settings"];
  std::string settings_path = Y::Join(path, "settings");
  bool has_settings = settings.IsDefined() && !settings.IsNull();
  if (has_settings && !d.ExpectMap(settings, settings_path)) {
    return;
  }
  YAML::Node empty(YAML::NodeType::Map);
  const YAML::Node& s = has_settings ? settings : empty;
  if (out->name == "process") {
    ProcessProviderSettings process;
    if (!has_settings) {
      d.Fail(node, settings_path, "the process provider needs settings.command");
    } else {
      ParseProcessSettings(d, s, settings_path, &process);
    }
    out->settings = std::move(process);
  } else if (out->name == "sim") {
    SimProviderSettings sim;
    ParseSimSettings(d, s, settings_path, &sim);
    out->settings = sim;
  } else if (out->name == "exec") {
    ExecProviderSettings exec;
    if (!has_settings) {
      d.Fail(node, settings_path, "the exec provider needs settings.command");
    } else {
      ParseExecSettings(d, s, settings_path, &exec);
    }
    out->settings = std::move(exec);
  } else {
    d.Fail(node["name"], Y::Join(path, "name"),
           "unknown provider \"" + out->name + "\" (known: process, sim, exec)");
  }
}

void ParseSoftware(YamlDecoder& d, const YAML::Node& group, const std::string& group_path,
                   std::vector<PackageSpec>* out) {
  YAML::Node list = group["software"];
  std::string path = Y::Join(group_path, "software");
  if (!list.IsDefined() || list.IsNull() || !d.ExpectSequence(list, path)) {
    return;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < list.size(); ++i) {
    std::string item = Y::Index(path, i);
    if (!d.ExpectMap(list[i], item)) {
      continue;
    }
    d.RejectUnknownKeys(list[i], item, {"name", "version"});
    PackageSpec package;
    d.String(list[i], "name", item, &package.name, /*required=*/true);
    d.String(list[i], "version", item, &package.version, /*required=*/true);
    if (!package.name.empty() && !names.insert(package.name).second) {
      d.Fail(list[i]["name"], Y::Join(item, "name"),
             "package \"" + package.name + "\" is listed twice");
    }
    out->push_back(std::move(package));
  }
}

void ParseVolumes(YamlDecoder& d, const YAML::Node& group, const std::string& group_path,
                  const std::string& provider, std::vector<VolumeSpec>* out) {
  YAML::Node list = group["volumes"];
  std::string path = Y::Join(group_path, "volumes");
  if (!list.IsDefined() || list.IsNull() || !d.ExpectSequence(list, path)) {
    return;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < list.size(); ++i) {
    std::string item = Y::Index(path, i);
    if (!d.ExpectMap(list[i], item)) {
      continue;
    }
    d.RejectUnknownKeys(list[i], item, {"name", "path", "sync"});
    VolumeSpec volume;
    if (d.String(list[i], "name", item, &volume.name, /*required=*/true)) {
      if (!IsDnsLabel(volume.name)) {
        d.Fail(list[i]["name"], Y::Join(item, "name"),
               "must be lower-case letters, digits and '-', at most 40 characters");
      } else if (!names.insert(volume.name).second) {
        d.Fail(list[i]["name"], Y::Join(item, "name"), "duplicate volume name");
      }
    }
    if (d.String(list[i], "path", item, &volume.path, /*required=*/true) &&
        (volume.path.empty() || volume.path.find("..") != std::string::npos)) {
      d.Fail(list[i]["path"], Y::Join(item, "path"), "must be a path without '..'");
    }
    YAML::Node sync = list[i]["sync"];
    std::string sync_path = Y::Join(item, "sync");
    if (sync.IsDefined() && d.ExpectMap(sync, sync_path)) {
      d.RejectUnknownKeys(sync, sync_path, {"method", "command", "interval", "maxLag"});
      d.Enum(sync, "method", sync_path, &volume.method,
             {{"copy", VolumeSyncMethod::kCopy}, {"command", VolumeSyncMethod::kCommand}});
      d.StringList(sync, "command", sync_path, &volume.command);
      CheckPlaceholders(d, sync["command"], Y::Join(sync_path, "command"), volume.command,
                        {"source", "target", "instance", "volume"});
      d.Duration(sync, "interval", sync_path, &volume.interval, absl::Milliseconds(100));
      d.Duration(sync, "maxLag", sync_path, &volume.max_lag, absl::Milliseconds(100));
    }
    if (volume.method == VolumeSyncMethod::kCommand && volume.command.empty()) {
      d.Fail(list[i], sync_path, "method: command needs a command");
    }
    if (volume.method == VolumeSyncMethod::kCopy && provider == "exec") {
      d.Fail(list[i], Y::Join(sync_path, "method"),
             "copy works only for the process and sim providers; use method: command");
    }
    out->push_back(std::move(volume));
  }
}

void ParseHealthCheck(YamlDecoder& d, const YAML::Node& group, const std::string& group_path,
                      HealthCheckSpec* out) {
  YAML::Node node = group["healthCheck"];
  std::string path = Y::Join(group_path, "healthCheck");
  if (!node.IsDefined() || !d.ExpectMap(node, path)) {
    return;
  }
  d.RejectUnknownKeys(node, path, {"path", "interval", "timeout", "failureThreshold"});
  if (d.String(node, "path", path, &out->path) && (out->path.empty() || out->path[0] != '/')) {
    d.Fail(node["path"], Y::Join(path, "path"), "must start with '/'");
  }
  d.Duration(node, "interval", path, &out->interval, absl::Milliseconds(100));
  d.Duration(node, "timeout", path, &out->timeout, absl::Milliseconds(10));
  d.Int(node, "failureThreshold", path, &out->failure_threshold, 1, 100);
}

void ParseShadowing(YamlDecoder& d, const YAML::Node& group, const std::string& group_path,
                    ShadowingSpec* out) {
  YAML::Node node = group["shadowing"];
  std::string path = Y::Join(group_path, "shadowing");
  if (!node.IsDefined() || !d.ExpectMap(node, path)) {
    return;
  }
  d.RejectUnknownKeys(node, path, {"apply", "replaceUnhealthyAfter", "buildTimeout"});
  d.Enum(node, "apply", path, &out->apply,
         {{"immediate", ShadowApplyPolicy::kImmediate},
          {"afterTested", ShadowApplyPolicy::kAfterTested}});
  d.Duration(node, "replaceUnhealthyAfter", path, &out->replace_unhealthy_after);
  d.Duration(node, "buildTimeout", path, &out->build_timeout, absl::Seconds(1));
}

bool IsMetricName(const std::string& name) {
  static const std::regex kName("^[a-zA-Z_:][a-zA-Z0-9_:]*$");
  return std::regex_match(name, kName);
}

void ParseMetricTerm(YamlDecoder& d, const YAML::Node& node, const std::string& path,
                     MetricTermSpec* out) {
  if (d.String(node, "metric", path, &out->metric, /*required=*/true) &&
      !IsMetricName(out->metric)) {
    d.Fail(node["metric"], Y::Join(path, "metric"),
           "\"" + out->metric + "\" is not a valid Prometheus metric name");
  }
  if (d.StringMap(node, "match", path, &out->match)) {
    for (const auto& [label, pattern] : out->match) {
      std::string re;
      if (pattern.rfind("!~", 0) == 0) {
        re = pattern.substr(2);
      } else if (pattern.rfind("~", 0) == 0) {
        re = pattern.substr(1);
      } else {
        continue;
      }
      try {
        std::regex compiled(re);
      } catch (const std::regex_error& e) {
        d.Fail(node["match"][label], Y::Join(Y::Join(path, "match"), label),
               "invalid regular expression \"" + re + "\": " + e.what());
      }
    }
  }
  d.Bool(node, "rate", path, &out->rate);
  d.Enum(node, "aggregate", path, &out->aggregate,
         {{"sum", MetricTermSpec::Aggregate::kSum},
          {"mean", MetricTermSpec::Aggregate::kMean},
          {"max", MetricTermSpec::Aggregate::kMax},
          {"min", MetricTermSpec::Aggregate::kMin}});
}

void ParseTelemetry(YamlDecoder& d, const YAML::Node& group, const std::string& group_path,
                    TelemetrySpec* out) {
  YAML::Node node = group["telemetry"];
  std::string path = Y::Join(group_path, "telemetry");
  if (!node.IsDefined() || !d.ExpectMap(node, path)) {
    return;
  }
  d.RejectUnknownKeys(node, path, {"scrape", "features", "defaultFeatures"});
  d.Bool(node, "defaultFeatures", path, &out->default_features);
  YAML::Node scrape = node["scrape"];
  std::string scrape_path = Y::Join(path, "scrape");
  if (scrape.IsDefined() && d.ExpectSequence(scrape, scrape_path)) {
    for (size_t i = 0; i < scrape.size(); ++i) {
      std::string item = Y::Index(scrape_path, i);
      if (!d.ExpectMap(scrape[i], item)) {
        continue;
      }
      d.RejectUnknownKeys(scrape[i], item, {"path", "port", "interval", "timeout"});
      ScrapeTargetSpec target;
      if (d.String(scrape[i], "path", item, &target.path) &&
          (target.path.empty() || target.path[0] != '/')) {
        d.Fail(scrape[i]["path"], Y::Join(item, "path"), "must start with '/'");
      }
      d.Int(scrape[i], "port", item, &target.port, 1, 65535);
      d.Duration(scrape[i], "interval", item, &target.interval, absl::Milliseconds(100));
      d.Duration(scrape[i], "timeout", item, &target.timeout, absl::Milliseconds(10));
      out->scrape.push_back(target);
    }
  }
  YAML::Node features = node["features"];
  std::string features_path = Y::Join(path, "features");
  if (features.IsDefined() && d.ExpectSequence(features, features_path)) {
    std::set<std::string> names;
    static const std::regex kFeatureName("^[a-z][a-z0-9_]{0,62}$");
    for (size_t i = 0; i < features.size(); ++i) {
      std::string item = Y::Index(features_path, i);
      if (!d.ExpectMap(features[i], item)) {
        continue;
      }
      d.RejectUnknownKeys(features[i], item,
                          {"name", "metric", "match", "rate", "aggregate", "divideBy", "complement",
                           "scale", "limit"});
      FeatureSpec feature;
      if (d.String(features[i], "name", item, &feature.name, /*required=*/true)) {
        if (!std::regex_match(feature.name, kFeatureName)) {
          d.Fail(features[i]["name"], Y::Join(item, "name"),
                 "must be lower-case letters, digits and '_', starting with a letter");
        } else if (!names.insert(feature.name).second) {
          d.Fail(features[i]["name"], Y::Join(item, "name"), "duplicate feature name");
        }
      }
      ParseMetricTerm(d, features[i], item, &feature.term);
      YAML::Node divide = features[i]["divideBy"];
      if (divide.IsDefined() && d.ExpectMap(divide, Y::Join(item, "divideBy"))) {
        d.RejectUnknownKeys(divide, Y::Join(item, "divideBy"),
                            {"metric", "match", "rate", "aggregate"});
        MetricTermSpec term;
        ParseMetricTerm(d, divide, Y::Join(item, "divideBy"), &term);
        feature.divide_by = term;
      }
      d.Bool(features[i], "complement", item, &feature.complement);
      d.Double(features[i], "scale", item, &feature.scale, -1e12, 1e12);
      double limit = 0;
      if (d.Double(features[i], "limit", item, &limit, -1e18, 1e18)) {
        feature.limit = limit;
      }
      out->features.push_back(std::move(feature));
    }
  }
}

void ParseRouter(YamlDecoder& d, const YAML::Node& group, const std::string& group_path,
                 RouterSpec* out) {
  YAML::Node node = group["router"];
  std::string path = Y::Join(group_path, "router");
  if (!node.IsDefined() || !d.ExpectMap(node, path)) {
    return;
  }
  d.RejectUnknownKeys(node, path, {"name", "settings"});
  d.String(node, "name", path, &out->name, /*required=*/true);
  YAML::Node settings = node["settings"];
  std::string settings_path = Y::Join(path, "settings");
  bool has_settings = settings.IsDefined() && !settings.IsNull();
  if (has_settings && !d.ExpectMap(settings, settings_path)) {
    return;
  }
  if (out->name == "none") {
    if (has_settings) {
      d.Fail(settings, settings_path, "router none takes no settings");
    }
    out->settings = NoRouterSettings{};
  } else if (out->name == "haproxy") {
    HaproxyRouterSettings h;
    if (!has_settings) {
      d.Fail(node, settings_path, "the haproxy router needs settings.socket and settings.backend");
    } else {
      d.RejectUnknownKeys(settings, settings_path,
                          {"socket", "backend", "fullWeight", "healthChecks", "timeout"});
      d.String(settings, "socket", settings_path, &h.socket, /*required=*/true);
      d.String(settings, "backend", settings_path, &h.backend, /*required=*/true);
      d.Int(settings, "fullWeight", settings_path, &h.full_weight, 1, 256);
      d.Bool(settings, "healthChecks", settings_path, &h.health_checks);
      d.Duration(settings, "timeout", settings_path, &h.timeout, absl::Milliseconds(10));
    }
    out->settings = h;
  } else if (out->name == "exec") {
    ExecRouterSettings e;
    if (!has_settings) {
      d.Fail(node, settings_path, "the exec router needs settings.command");
    } else {
      d.RejectUnknownKeys(settings, settings_path, {"command", "env", "timeout"});
      if (d.StringList(settings, "command", settings_path, &e.command, /*required=*/true) &&
          e.command.empty()) {
        d.Fail(settings["command"], Y::Join(settings_path, "command"),
               "must name the plug-in to run");
      }
      d.StringMap(settings, "env", settings_path, &e.env);
      d.Duration(settings, "timeout", settings_path, &e.timeout, absl::Milliseconds(10));
    }
    out->settings = e;
  } else {
    d.Fail(node["name"], Y::Join(path, "name"),
           "unknown router \"" + out->name + "\" (known: haproxy, exec, none)");
  }
}

void ParseSwitchover(YamlDecoder& d, const YAML::Node& group, const std::string& group_path,
                     SwitchoverSpec* out) {
  YAML::Node node = group["switchover"];
  std::string path = Y::Join(group_path, "switchover");
  if (!node.IsDefined() || !d.ExpectMap(node, path)) {
    return;
  }
  d.RejectUnknownKeys(node, path,
                      {"strategy",
                       "initialWeight",
                       "stepWeight",
                       "stepInterval",
                       "sampleInterval",
                       "minSamples",
                       "maxFailedJudgements",
                       "onInconclusive",
                       "previewWeight",
                       "previewDuration",
                       "bakeTime",
                       "progressDeadline",
                       "maxErrorRate",
                       "maxErrorRateIncrease",
                       "maxLatencyIncrease",
                       "maxVarianceRatio",
                       "confidence",
                       "metricsPath",
                       "requestsMetric",
                       "errorCodes",
                       "latencyMetric",
                       "maxConcurrent",
                       "minHealthyShare",
                       "riskThreshold",
                       "automatic"});
  d.Enum(node, "strategy", path, &out->strategy,
         {{"canary", SwitchoverSpec::Strategy::kCanary},
          {"blueGreen", SwitchoverSpec::Strategy::kBlueGreen}});
  d.Int(node, "initialWeight", path, &out->initial_weight, 1, 100);
  d.Int(node, "stepWeight", path, &out->step_weight, 1, 100);
  d.Duration(node, "stepInterval", path, &out->step_interval, absl::Milliseconds(100));
  d.Duration(node, "sampleInterval", path, &out->sample_interval, absl::Milliseconds(50));
  d.Int(node, "minSamples", path, &out->min_samples, 2, 100000);
  d.Int(node, "maxFailedJudgements", path, &out->max_failed_judgements, 1, 100);
  d.Enum(node, "onInconclusive", path, &out->on_inconclusive,
         {{"fail", SwitchoverSpec::OnInconclusive::kFail},
          {"pause", SwitchoverSpec::OnInconclusive::kPause}});
  d.Int(node, "previewWeight", path, &out->preview_weight, 0, 50);
  d.Duration(node, "previewDuration", path, &out->preview_duration, absl::Milliseconds(100));
  d.Duration(node, "bakeTime", path, &out->bake_time);
  d.Duration(node, "progressDeadline", path, &out->progress_deadline, absl::Seconds(1));
  d.Double(node, "maxErrorRate", path, &out->max_error_rate, 0, 1);
  d.Double(node, "maxErrorRateIncrease", path, &out->max_error_rate_increase, 0, 1);
  d.Double(node, "maxLatencyIncrease", path, &out->max_latency_increase, 0, 100);
  d.Double(node, "maxVarianceRatio", path, &out->max_variance_ratio, 1, 1e6);
  d.Double(node, "confidence", path, &out->confidence, 0.5, 0.9999);
  if (d.String(node, "metricsPath", path, &out->metrics_path) &&
      (out->metrics_path.empty() || out->metrics_path[0] != '/')) {
    d.Fail(node["metricsPath"], Y::Join(path, "metricsPath"), "must start with '/'");
  }
  d.String(node, "requestsMetric", path, &out->requests_metric);
  if (d.String(node, "errorCodes", path, &out->error_codes)) {
    try {
      std::regex compiled(out->error_codes);
    } catch (const std::regex_error& e) {
      d.Fail(node["errorCodes"], Y::Join(path, "errorCodes"),
             std::string("invalid regular expression: ") + e.what());
    }
  }
  d.String(node, "latencyMetric", path, &out->latency_metric);
  d.Int(node, "maxConcurrent", path, &out->max_concurrent, 1, 1'000'000);
  d.Double(node, "minHealthyShare", path, &out->min_healthy_share, 0, 1);
  d.Double(node, "riskThreshold", path, &out->risk_threshold, 0, 1);
  d.Bool(node, "automatic", path, &out->automatic);
}

GroupSpec ParseGroup(YamlDecoder& d, const YAML::Node& node, const std::string& path) {
  GroupSpec group;
  d.RejectUnknownKeys(
      node, path,
      {"name", "replicas", "instanceType", "os", "software", "configuration", "volumes", "provider",
       "healthCheck", "shadowing", "live", "telemetry", "router", "switchover"});
  if (d.String(node, "name", path, &group.name, /*required=*/true) && !IsDnsLabel(group.name)) {
    d.Fail(node["name"], Y::Join(path, "name"),
           "must be lower-case letters, digits and '-', at most 40 characters, got \"" +
               group.name + "\"");
  }
  d.String(node, "instanceType", path, &group.instance_type);

  YAML::Node os = node["os"];
  if (os.IsDefined() && d.ExpectMap(os, Y::Join(path, "os"))) {
    d.RejectUnknownKeys(os, Y::Join(path, "os"), {"name", "version"});
    d.String(os, "name", Y::Join(path, "os"), &group.os.name, /*required=*/true);
    d.String(os, "version", Y::Join(path, "os"), &group.os.version, /*required=*/true);
  }
  ParseSoftware(d, node, path, &group.software);

  YAML::Node configuration = node["configuration"];
  if (configuration.IsDefined() && !configuration.IsNull() &&
      d.ExpectMap(configuration, Y::Join(path, "configuration"))) {
    group.configuration = d.ToJson(configuration, Y::Join(path, "configuration"));
  }

  ParseProvider(d, node, path, &group.provider);
  ParseVolumes(d, node, path, group.provider.name, &group.volumes);
  ParseHealthCheck(d, node, path, &group.health_check);
  ParseShadowing(d, node, path, &group.shadowing);
  ParseTelemetry(d, node, path, &group.telemetry);
  ParseRouter(d, node, path, &group.router);
  ParseSwitchover(d, node, path, &group.switchover);

  YAML::Node live = node["live"];
  if (live.IsDefined() && d.ExpectMap(live, Y::Join(path, "live"))) {
    d.RejectUnknownKeys(live, Y::Join(path, "live"), {"mode", "replaceLostAfter"});
    d.Enum(live, "mode", Y::Join(path, "live"), &group.live_mode,
           {{"managed", LiveMode::kManaged}, {"adopted", LiveMode::kAdopted}});
    d.Duration(live, "replaceLostAfter", Y::Join(path, "live"), &group.replace_lost_after);
  }
  if (group.live_mode == LiveMode::kAdopted && group.provider.name != "exec") {
    d.Fail(node["live"], Y::Join(path, "live.mode"),
           "adopted live instances need a provider that lists them (exec)");
  }
  bool replicas_required = group.live_mode == LiveMode::kManaged;
  if (d.Int(node, "replicas", path, &group.replicas, 0, 1'000'000, replicas_required) &&
      !replicas_required) {
    d.Fail(node["replicas"], Y::Join(path, "replicas"),
           "adopted groups take their instances from the provider; remove replicas");
  }
  return group;
}

void ParseMetadata(YamlDecoder& d, const YAML::Node& doc, FleetSpec* fleet) {
  YAML::Node metadata = doc["metadata"];
  if (!metadata.IsDefined()) {
    d.Fail(doc, "metadata", "required field is missing");
    return;
  }
  if (!d.ExpectMap(metadata, "metadata")) {
    return;
  }
  d.RejectUnknownKeys(metadata, "metadata", {"name", "labels"});
  if (d.String(metadata, "name", "metadata", &fleet->name, /*required=*/true) &&
      !IsDnsLabel(fleet->name)) {
    d.Fail(metadata["name"], "metadata.name",
           "must be lower-case letters, digits and '-', at most 40 characters");
  }
  d.StringMap(metadata, "labels", "metadata", &fleet->labels);
}

std::optional<FleetSpec> ParseFleetDocument(YamlDecoder& d, const YAML::Node& doc) {
  if (!d.ExpectMap(doc, "")) {
    return std::nullopt;
  }
  d.RejectUnknownKeys(doc, "", {"apiVersion", "kind", "metadata", "spec"});
  std::string api_version, kind;
  if (d.String(doc, "apiVersion", "", &api_version, /*required=*/true) &&
      api_version != kApiVersion) {
    d.Fail(
        doc["apiVersion"], "apiVersion",
        absl::StrCat("unsupported apiVersion \"", api_version, "\" (expected ", kApiVersion, ")"));
  }
  if (d.String(doc, "kind", "", &kind, /*required=*/true) && kind != kFleetKind) {
    d.Fail(doc["kind"], "kind", "expected kind Fleet, got \"" + kind + "\"");
  }

  FleetSpec fleet;
  ParseMetadata(d, doc, &fleet);
  YAML::Node spec = doc["spec"];
  if (!spec.IsDefined()) {
    d.Fail(doc, "spec", "required field is missing");
    return fleet;
  }
  if (!d.ExpectMap(spec, "spec")) {
    return fleet;
  }
  d.RejectUnknownKeys(spec, "spec", {"groups"});
  YAML::Node groups = spec["groups"];
  if (!groups.IsDefined()) {
    d.Fail(spec, "spec.groups", "required field is missing");
    return fleet;
  }
  if (!d.ExpectSequence(groups, "spec.groups")) {
    return fleet;
  }
  if (groups.size() == 0) {
    d.Fail(groups, "spec.groups", "a fleet needs at least one group");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < groups.size(); ++i) {
    std::string path = Y::Index("spec.groups", i);
    if (!d.ExpectMap(groups[i], path)) {
      continue;
    }
    GroupSpec group = ParseGroup(d, groups[i], path);
    if (!group.name.empty() && !names.insert(group.name).second) {
      d.Fail(groups[i]["name"], Y::Join(path, "name"),
             "group \"" + group.name + "\" is declared twice");
    }
    fleet.groups.push_back(std::move(group));
  }
  return fleet;
}

}  // namespace

absl::StatusOr<std::vector<FleetSpec>> ParseFleetSpecs(const std::string& text,
                                                       const std::string& file,
                                                       std::vector<SpecError>* errors) {
  YamlDecoder d(file);
  std::vector<YAML::Node> documents = LoadYamlDocuments(text, d);
  if (d.ok() && documents.empty()) {
    d.FailAt(0, 0, "", "no Fleet document found");
  }
  std::vector<FleetSpec> fleets;
  std::set<std::string> fleet_names;
  for (const YAML::Node& doc : documents) {
    std::optional<FleetSpec> fleet = ParseFleetDocument(d, doc);
    if (!fleet) {
      continue;
    }
    if (!fleet->name.empty() && !fleet_names.insert(fleet->name).second) {
      d.Fail(doc["metadata"]["name"], "metadata.name",
             "fleet \"" + fleet->name + "\" appears twice in this input");
    }
    fleets.push_back(std::move(*fleet));
  }
  if (errors != nullptr) {
    *errors = d.errors();
  }
  if (!d.ok()) {
    return d.ToStatus();
  }
  if (absl::Status status = ValidateFleetSet(fleets); !status.ok()) {
    if (errors != nullptr) {
      errors->push_back({file, 0, 0, "", std::string(status.message())});
    }
    return absl::InvalidArgumentError(absl::StrCat(file, ": ", status.message()));
  }
  return fleets;
}

absl::Status ValidateFleetSet(const std::vector<FleetSpec>& fleets) {
  std::map<std::string, std::string> owner;
  for (const FleetSpec& fleet : fleets) {
    for (const GroupSpec& group : fleet.groups) {
      auto [it, inserted] = owner.emplace(group.name, fleet.name);
      if (!inserted && it->second != fleet.name) {
        return absl::InvalidArgumentError(
            absl::StrCat("group \"", group.name, "\" is declared by fleets \"", it->second,
                         "\" and \"", fleet.name, "\"; group names must be unique"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace shadowfleet

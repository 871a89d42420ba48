#include "shadowfleet/prediction/risk_features.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

#include "shadowfleet/prediction/anomaly_detector.h"

namespace shadowfleet {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

struct KindName {
  RiskFeatures::Kind kind;
  const char* name;
};
constexpr KindName kMetricKinds[] = {
    {RiskFeatures::Kind::kValue, "value"},
    {RiskFeatures::Kind::kAnomaly, "anomaly"},
    {RiskFeatures::Kind::kAnomalyRecentMax, "anomaly_recent_max"},
    {RiskFeatures::Kind::kForecastZ, "forecast_z"},
    {RiskFeatures::Kind::kTrendPerHour, "trend_per_hour"},
    {RiskFeatures::Kind::kExhaustionHours, "exhaustion_hours"},
};
constexpr KindName kInstanceKinds[] = {
    {RiskFeatures::Kind::kAgeHours, "age_hours"},
    {RiskFeatures::Kind::kRestartsRecent, "restarts_recent"},
    {RiskFeatures::Kind::kAnomalousMetrics, "anomalous_metrics"},
    {RiskFeatures::Kind::kVulnerabilityMaxSeverity, "vulnerability_max_severity"},
    {RiskFeatures::Kind::kVulnerabilityCount, "vulnerability_count"},
};

bool IsRatio(const std::string& metric) {
  return absl::EndsWith(metric, "_ratio") || absl::EndsWith(metric, "_utilisation") ||
         absl::EndsWith(metric, "_utilization") || IsErrorRateMetric(metric);
}

float ExhaustionHours(double seconds) {
  double hours = seconds / 3600.0;
  return static_cast<float>(std::isnan(hours) ? kExhaustionCapHours
                                              : std::min(hours, kExhaustionCapHours));
}

// "1 minute", "3 minutes"; `plural` defaults to `unit` + "s".
std::string Plural(double n, const char* unit, const char* plural = nullptr) {
  if (n == 1) {
    return absl::StrFormat("1 %s", unit);
  }
  return plural != nullptr ? absl::StrFormat("%.0f %s", n, plural)
                           : absl::StrFormat("%.0f %ss", n, unit);
}

}  // namespace

std::vector<std::string> RiskFeatures::DefaultMetrics() {
  return {
      "cpu_utilisation",         "memory_used_ratio", "disk_used_ratio",      "disk_io_utilisation",
      "network_latency_seconds", "error_rate",        "process_memory_ratio", "up"};
}

RiskFeatures::RiskFeatures(std::vector<std::string> metrics) : metrics_(std::move(metrics)) {
  for (size_t m = 0; m < metrics_.size(); ++m) {
    for (const KindName& k : kMetricKinds) {
      columns_.push_back({k.kind, static_cast<int>(m)});
      names_.push_back(absl::StrCat(metrics_[m], ".", k.name));
    }
  }
  for (const KindName& k : kInstanceKinds) {
    columns_.push_back({k.kind, -1});
    names_.push_back(k.name);
  }
}

const std::string& RiskFeatures::metric(size_t index) const {
  static const std::string kNone;
  int m = columns_[index].metric;
  return m < 0 ? kNone : metrics_[m];
}

std::vector<float> RiskFeatures::Extract(const InstanceSignals& signals) const {
  std::vector<float> row;
  row.reserve(names_.size());
  for (const std::string& metric : metrics_) {
    auto it = signals.features.find(metric);
    if (it == signals.features.end()) {
      row.insert(row.end(), std::size(kMetricKinds), kMissing);
      continue;
    }
    const FeatureSignal& f = it->second;
    row.push_back(static_cast<float>(f.value));
    row.push_back(static_cast<float>(f.anomaly));
    row.push_back(static_cast<float>(f.anomaly_recent_max));
    row.push_back(static_cast<float>(f.forecast_z));
    row.push_back(static_cast<float>(f.trend_per_hour));
    row.push_back(ExhaustionHours(f.exhaustion_seconds));
  }

  int anomalous = 0;
  for (const auto& [name, f] : signals.features) {
    anomalous += f.anomaly_recent_max >= kAnomalyAlertThreshold ? 1 : 0;
  }
  double max_severity = 0;
  for (const VulnerabilityMatch& v : signals.vulnerabilities) {
    max_severity = std::max(max_severity, v.severity);
  }
  row.push_back(static_cast<float>(signals.age_hours));
  row.push_back(static_cast<float>(signals.restarts_recent));
  row.push_back(static_cast<float>(anomalous));
  row.push_back(static_cast<float>(max_severity));
  row.push_back(static_cast<float>(signals.vulnerabilities.size()));
  return row;
}

InstanceSignals RiskFeatures::ToSignals(absl::Span<const float> row) const {
  InstanceSignals s;
  const size_t per_metric = std::size(kMetricKinds);
  for (size_t m = 0; m < metrics_.size(); ++m) {
    const float* v = row.data() + m * per_metric;
    if (std::isnan(v[0]) && std::isnan(v[1])) {
      continue;  // The metric was missing.
    }
    FeatureSignal f;
    // Sample counts are not kept; a stored vector is taken as coming from mature models.
    f.samples = std::numeric_limits<int64_t>::max();
    f.value = v[0];
    f.anomaly = v[1];
    f.anomaly_recent_max = v[2];
    f.forecast_z = v[3];
    f.trend_per_hour = v[4];
    f.exhaustion_seconds = v[5] >= kExhaustionCapHours ? std::numeric_limits<double>::infinity()
                                                       : static_cast<double>(v[5]) * 3600.0;
    s.features[metrics_[m]] = f;
  }
  const float* inst = row.data() + metrics_.size() * per_metric;
  s.age_hours = inst[0];
  s.restarts_recent = static_cast<int64_t>(inst[1]);
  const int count = std::isnan(inst[4]) ? 0 : static_cast<int>(inst[4]);
  for (int i = 0; i < count; ++i) {
    s.vulnerabilities.push_back({.severity = inst[3]});
  }
  return s;
}

std::string RiskFeatures::Describe(size_t index, absl::Span<const float> row,
                                   const InstanceSignals* signals) const {
  const double v = row[index];
  const Column& c = columns_[index];
  const std::string& m = metric(index);
  const std::string label = c.metric >= 0 ? MetricLabel(m) : "";
  if (std::isnan(v)) {
    return c.metric >= 0 ? absl::StrCat(label, " not measured")
                         : absl::StrCat(names_[index], " unknown");
  }
  const size_t base = c.metric >= 0 ? c.metric * std::size(kMetricKinds) : 0;
  switch (c.kind) {
    case Kind::kValue: {
      if (IsScrapeHealthMetric(m)) {
        return v < 0.5 ? "scrapes failing (up = 0)" : "scrapes answering (up = 1)";
      }
      bool anomalous = row[base + 2] >= kAnomalyAlertThreshold;
      return absl::StrCat(label, " ", FormatMetricValue(m, v), anomalous ? " (anomalous)" : "");
    }
    case Kind::kAnomaly:
    case Kind::kAnomalyRecentMax:
      return absl::StrFormat("%s %s%s (likelihood %.2f)", label,
                             v >= kAnomalyAlertThreshold ? "anomalous" : "not anomalous",
                             c.kind == Kind::kAnomaly ? " now" : " in the last minutes", v);
    case Kind::kForecastZ:
      return absl::StrFormat("%s %s, %.1f typical errors from its forecast", label,
                             FormatMetricValue(m, row[base]), v);
    case Kind::kTrendPerHour:
      return absl::StrCat(label, v >= 0 ? " rising " : " falling ",
                          FormatMetricValue(m, std::fabs(v)), " per hour");
    case Kind::kExhaustionHours:
      return v >= kExhaustionCapHours ? absl::StrCat(label, " not heading for its limit")
                                      : DescribeExhaustion(m, v * 3600.0);
    case Kind::kAgeHours:
      return absl::StrCat("live for ", ApproximateDuration(v * 3600.0));
    case Kind::kRestartsRecent:
      return absl::StrCat(Plural(v, "health loss", "health losses"), " recently");
    case Kind::kAnomalousMetrics:
      return absl::StrCat(Plural(v, "metric"), " anomalous at once");
    case Kind::kVulnerabilityMaxSeverity:
    case Kind::kVulnerabilityCount: {
      if (signals != nullptr && !signals->vulnerabilities.empty()) {
        const VulnerabilityMatch* worst = &signals->vulnerabilities[0];
        for (const VulnerabilityMatch& match : signals->vulnerabilities) {
          worst = match.severity > worst->severity ? &match : worst;
        }
        return absl::StrFormat("%s %s: %s (CVSS %.1f)%s", worst->package, worst->version, worst->id,
                               worst->severity,
                               signals->vulnerabilities.size() > 1
                                   ? absl::StrCat(" and ", signals->vulnerabilities.size() - 1,
                                                  " more known vulnerabilities")
                                   : "");
      }
      if (c.kind == Kind::kVulnerabilityCount) {
        return absl::StrCat(Plural(v, "known vulnerability", "known vulnerabilities"),
                            " in the software");
      }
      return absl::StrFormat("known vulnerability of severity %.1f (CVSS)", v);
    }
  }
  return names_[index];
}

nlohmann::json RiskFeatures::ToJson() const {
  return {{"metrics", metrics_}, {"names", names_}};
}

absl::StatusOr<RiskFeatures> RiskFeatures::FromJson(const nlohmann::json& json) {
  if (!json.is_object() || !json.contains("metrics") || !json["metrics"].is_array()) {
    return absl::InvalidArgumentError("features: \"metrics\" must be an array of names");
  }
  std::vector<std::string> metrics;
  for (const nlohmann::json& m : json["metrics"]) {
    if (!m.is_string()) {
      return absl::InvalidArgumentError("features: every metric must be a string");
    }
    metrics.push_back(m.get<std::string>());
  }
  RiskFeatures features(std::move(metrics));
  if (json.contains("names") && json["names"] != nlohmann::json(features.names())) {
    return absl::InvalidArgumentError(
        "features: stored feature names differ from the ones this version derives from the "
        "metrics; the model was made by an incompatible version");
  }
  return features;
}

std::string MetricLabel(const std::string& metric) {
  static constexpr std::pair<const char*, const char*> kLabels[] = {
      {"cpu_utilisation", "CPU"},
      {"memory_used_ratio", "memory"},
      {"disk_used_ratio", "disk"},
      {"disk_io_utilisation", "disk I/O"},
      {"network_latency_seconds", "latency"},
      {"error_rate", "error rate"},
      {"process_memory_ratio", "process memory"},
      {"up", "scrapes"},
  };
  for (const auto& [name, label] : kLabels) {
    if (metric == name) {
      return label;
    }
  }
  return absl::StrReplaceAll(metric, {{"_", " "}});
}

std::string FormatMetricValue(const std::string& metric, double value) {
  if (IsRatio(metric)) {
    double percent = value * 100;
    return std::fabs(percent) < 10 ? absl::StrFormat("%.1f %%", percent)
                                   : absl::StrFormat("%.0f %%", percent);
  }
  if (absl::EndsWith(metric, "_seconds")) {
    if (std::fabs(value) < 0.01) {
      return absl::StrFormat("%.1f ms", value * 1000);
    }
    return std::fabs(value) < 1 ? absl::StrFormat("%.0f ms", value * 1000)
                                : absl::StrFormat("%.1f s", value);
  }
  return absl::StrFormat("%.3g", value);
}

std::string ApproximateDuration(double seconds) {
  if (seconds < 60) {
    return "less than a minute";
  }
  if (seconds < 90 * 60) {
    return absl::StrCat("about ", Plural(std::round(seconds / 60), "minute"));
  }
  if (seconds < 36 * 3600) {
    return absl::StrCat("about ", Plural(std::round(seconds / 3600), "hour"));
  }
  return absl::StrCat("about ", Plural(std::round(seconds / 86400), "day"));
}

std::string DescribeExhaustion(const std::string& metric, double seconds) {
  if (seconds <= 0) {
    return absl::StrCat(MetricLabel(metric), " is exhausted");
  }
  return absl::StrCat(MetricLabel(metric), " will be exhausted in ", ApproximateDuration(seconds));
}

bool IsErrorRateMetric(const std::string& metric) {
  return metric == "error_rate" || absl::EndsWith(metric, "_error_rate");
}

bool IsLatencyMetric(const std::string& metric) {
  return absl::StrContains(metric, "latency");
}

bool IsScrapeHealthMetric(const std::string& metric) {
  return metric == "up";
}

}  // namespace shadowfleet

// The feature vector of the learnt risk models: an instance's signals (prediction/signals.h)
// flattened into a fixed order with stable names, and plain words for what each feature says
// about the instance ("memory will be exhausted in about 40 minutes", "error rate 12 %
// (anomalous)"), used to explain a risk score.
//
// For each metric of the list, in order (missing metric: NaN, which the trees treat as
// "unknown"):
//   <metric>.value               latest value
//   <metric>.anomaly             anomaly likelihood of the latest sample
//   <metric>.anomaly_recent_max  highest likelihood over the recent window
//   <metric>.forecast_z          distance from the one-step forecast, in typical errors
//   <metric>.trend_per_hour      fitted change per hour (bounded metrics; 0 otherwise)
//   <metric>.exhaustion_hours    hours until the limit (capped at 720, which also means never)
// then, for the instance:
//   age_hours, restarts_recent, anomalous_metrics (metrics anomalous in the recent window),
//   vulnerability_max_severity (CVSS), vulnerability_count.
//
// Example:
//   RiskFeatures features;                      // The default telemetry metrics and "up".
//   std::vector<float> row = features.Extract(tracker.Snapshot("web-3"));
//   std::string why = features.Describe(index, row);
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include <nlohmann/json.hpp>

#include "shadowfleet/prediction/signals.h"

namespace shadowfleet {

// Hours to exhaustion are capped here: a month away is as good as never for a risk horizon of
// minutes to hours, and a finite cap keeps the feature usable by every learner.
inline constexpr double kExhaustionCapHours = 720.0;

// Immutable once built; thread-safe to share.
class RiskFeatures {
 public:
  enum class Kind {
    kValue,
    kAnomaly,
    kAnomalyRecentMax,
    kForecastZ,
    kTrendPerHour,
    kExhaustionHours,
    kAgeHours,
    kRestartsRecent,
    kAnomalousMetrics,
    kVulnerabilityMaxSeverity,
    kVulnerabilityCount,
  };

  // The default telemetry features (spec/fleet_spec.cc) and the scrape health "up".
  static std::vector<std::string> DefaultMetrics();

  explicit RiskFeatures(std::vector<std::string> metrics = DefaultMetrics());

  const std::vector<std::string>& metrics() const { return metrics_; }
  const std::vector<std::string>& names() const { return names_; }
  size_t size() const { return names_.size(); }
  Kind kind(size_t index) const { return columns_[index].kind; }
  // The metric feature `index` belongs to; empty for instance-level features.
  const std::string& metric(size_t index) const;

  std::vector<float> Extract(const InstanceSignals& signals) const;

  // The signals as far as a vector keeps them: per metric everything but the sample count
  // (set to the maximum: taken as mature) and time, the instance's age and restarts, and one
  // vulnerability per counted one at the maximum severity (ids are not kept). Lets rules
  // written for signals (the prior) score stored vectors.
  InstanceSignals ToSignals(absl::Span<const float> row) const;

  // Plain words for feature `index` of `row`. With `signals`, vulnerabilities are named.
  std::string Describe(size_t index, absl::Span<const float> row,
                       const InstanceSignals* signals = nullptr) const;

  // {"metrics": [...]}; FromJson also checks that the stored names match.
  nlohmann::json ToJson() const;
  static absl::StatusOr<RiskFeatures> FromJson(const nlohmann::json& json);

 private:
  struct Column {
    Kind kind;
    int metric;  // Index into metrics_, or -1.
  };

  std::vector<std::string> metrics_;
  std::vector<Column> columns_;
  std::vector<std::string> names_;
};

// Words shared by the risk models' explanations.
//
// A metric's name for people: "memory", "error rate", "latency"; unknown names have their
// underscores turned into spaces.
std::string MetricLabel(const std::string& metric);
// A value in the metric's unit: ratios as percentages, "_seconds" metrics in ms or s.
std::string FormatMetricValue(const std::string& metric, double value);
// "about 40 minutes", "about 3 hours", "about 2 days", "less than a minute".
std::string ApproximateDuration(double seconds);
// "memory will be exhausted in about 40 minutes", or "... is exhausted" at 0.
std::string DescribeExhaustion(const std::string& metric, double seconds);

// Which metric names the rules treat as an error rate, a latency, or scrape health.
bool IsErrorRateMetric(const std::string& metric);
bool IsLatencyMetric(const std::string& metric);
bool IsScrapeHealthMetric(const std::string& metric);

}  // namespace shadowfleet

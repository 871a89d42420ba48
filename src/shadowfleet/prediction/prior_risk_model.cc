#include "shadowfleet/prediction/prior_risk_model.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "shadowfleet/prediction/anomaly_detector.h"
#include "shadowfleet/prediction/risk_features.h"

namespace shadowfleet {
namespace {

// --- Base hazard by age -------------------------------------------------------------------
// Produced by
//   shadowfleet eval lanl --data lanl-failures-1996-2005.csv -o json
// on the Los Alamos records 1996-2005: 12,666 failures of 4,932 nodes with at most four
// processors (15 systems, 12,928 node-years). Rates are failures per node-year in bands of
// age since the node entered production; the upper ends are in months. They give the infant
// rise (1.5 per year in months 1-3) and no wear-out within three years; the power-law fit of
// the same data has exponent 0.945, nearly a constant rate.
struct AgeBand {
  double until_months;
  double per_node_year;
};
constexpr AgeBand kAgeBands[] = {
    {1, 1.124}, {3, 1.522}, {6, 0.945}, {12, 0.800}, {24, 0.966}, {36, 1.068}, {1e9, 0.731},
};
constexpr double kHoursPerYear = 365.25 * 24;
constexpr double kHoursPerMonth = kHoursPerYear / 12;

// After a repair, the same records show a node's next failure at 25.4 times the overall rate
// in the first day (158.6 times in the first hour, 5.9 times in the first week). A recent
// health loss therefore adds 24.4 times the base rate; counting at most four keeps a flapping
// instance from dominating the sum through this term alone.
constexpr double kRepairExcess = 24.4;
constexpr int64_t kMaxRestartsCounted = 4;

// --- Bounded resources --------------------------------------------------------------------
// Cumulative hazard 2.3 (H/T)^2 for a resource whose early time to exhaustion is T: at T = H
// the probability is 0.9 (2.3 = -ln 0.1), above the 0.7 switchover threshold until T = 1.4 H,
// so the switch happens with time to spare; beyond the horizon the square makes it fade fast
// (0.44 at 2 H, 0.13 at 4 H, 0.02 at 10 H), because T is already the early end of a 95 %
// interval. T below a minute counts as a minute.
constexpr double kExhaustion = 2.3;
constexpr double kMinExhaustionSeconds = 60;
// The term is weighted by how full the resource is: 0 up to half full, rising linearly to 1 at
// 80 %. A resource at half its limit can only run out within the horizon by more than
// doubling, and the short-window trends that project that (a garbage-collection sawtooth, a
// batch job) are far more common than real runaways: in the simulated healthy fleet of the
// unit tests, a 5-minute sawtooth alone raised a false alarm on every instance without this
// weight. The limit is not among the signals; value + trend x T (with the early T) estimates
// it from below, so the fill is over- rather than under-estimated. A leak of 1 % per minute
// still crosses 0.7 about 20 minutes before the limit.
constexpr double kFillWeightStart = 0.5;
constexpr double kFillWeightFull = 0.8;
// Trends fitted on fewer samples than this are not used (the exhaustion term, latency growth,
// the projected error rate): a fit over the first minutes of a replica projects noise. In the
// simulated latency of the unit tests (15 % noise, a sample every 10 s) a fit over the first 24
// samples projected +108 % within the horizon and crossed 0.7 on a healthy instance. 60 is half
// the signal tracker's fit window.
constexpr int64_t kMinTrendSamples = 60;
// No single term may exceed this cumulative hazard (P = 0.99995); beyond it the probability
// no longer changes and only rounding would.
constexpr double kMaxTerm = 10;

// --- Error rate ---------------------------------------------------------------------------
// Relative to 5 %, the switchover judge's default maximum error rate: a replica serving more
// would be rolled back as a canary, i.e. it is failing its users. Hazard 1 per hour at 5 %
// (P = 0.39 over 30 minutes: watch), growing with the square, so that 7.7 % crosses 0.7 and
// 10 % gives 0.86, while 1 % stays at 0.02 and 0.1 % at 0.0001. A rising error rate counts at
// its value projected to the end of the horizon. When the error rate is also anomalous (new
// levels: bursts growing), the hazard is 1.5 times higher.
constexpr double kErrorRateReference = 0.05;
constexpr double kErrorRateHazard = 1.0;
constexpr double kAnomalousErrorFactor = 1.5;

// --- Latency ------------------------------------------------------------------------------
// Latency projected to grow by half of its present value within the horizon gives cumulative
// hazard 1.2 (P = 0.70: the threshold); doubling gives 4.8. A trend is known only for a
// latency metric with a limit (the health-check timeout), like any bounded resource, and is
// used only when it is significant (the time to exhaustion is finite).
constexpr double kLatencyGrowthReference = 0.5;
constexpr double kLatencyGrowth = 1.2;
// Growth is measured against at least 10 ms. Below that, the fitted trend of a fast service is
// mostly jitter: a healthy replica answering in 0.3 ms drifts by a tenth of a millisecond
// within minutes, which is "+30 %" against its own value; in the local demo fleet that alone
// switched healthy instances over. A change of under 10 ms is also below what users of an
// HTTP service notice, while a service creeping from 1 ms towards a timeout still shows
// growth of many times the floor within the horizon.
constexpr double kLatencyGrowthFloorSeconds = 0.010;
// Without a trend, a latency far from its forecast is a weak sign: 0.1 per hour per
// (z/4)^2 above z = 4, at most 9 times that (z = 12): at most P = 0.36 over 30 minutes.
constexpr double kLatencySurpriseZ = 4;
constexpr double kLatencySurpriseHazard = 0.1;

// --- Scrapes, anomalies, vulnerabilities: weak signs ----------------------------------------
// A failed scrape is more often the network or a slow response than the instance: hazard 0.4
// per hour (P = 0.18 over 30 minutes). A healthy instance whose scrapes fail one time in a
// thousand then stays below 0.3, short of "watch" (half the threshold in the risk engine, 0.35
// by default), even when two metrics are anomalous at the same moment. With an error rate,
// latency or exhaustion sign it adds weight.
constexpr double kScrapeDownHazard = 0.4;
// a metrics anomalous in the recent window: 0.05 (a - 1)^2 per hour, a - 1 at most 3. A single
// anomalous metric adds nothing: with eight metrics per instance, the detector's own false
// positives make one somewhere common (in the simulated healthy fleet of the unit tests,
// counting single anomalies made them 95 % of a healthy instance's average risk). Two at once
// give P = 0.025 over 30 minutes, three 0.10, four or more 0.20, so anomalies alone stay short
// of "watch"; they add weight to other signs. Several at once still happen on healthy
// instances in the hours after the detector's warm-up, when every noisy metric sets records.
constexpr double kAnomalyHazard = 0.05;
constexpr int kMaxAnomaliesCounted = 4;
// The worst CVSS base score s: 0.6 (s/10)^4 per hour: 0.26 over 30 minutes at 10, 0.09 at
// 7.5, 0.02 at 5. Exploitation within a horizon of minutes is rare, and patching is the shadow
// manager's work; a vulnerability only adds weight to other signs.
constexpr double kVulnerabilityHazard = 0.6;

double Hours(absl::Duration d) {
  return absl::ToDoubleHours(d);
}

double Cap(double cumulative) {
  return std::min(cumulative, kMaxTerm);
}

void Add(std::vector<HazardTerm>& terms, std::string name, std::string description,
         double cumulative) {
  if (cumulative > 0 && std::isfinite(cumulative)) {
    terms.push_back({std::move(name), std::move(description), Cap(cumulative)});
  }
}

void AddBase(const InstanceSignals& s, double h, std::vector<HazardTerm>& terms) {
  double base = PriorRiskModel::AgeHazardPerHour(s.age_hours) * h;
  Add(terms, "age_hours",
      absl::StrCat("live for ", ApproximateDuration(std::max(0.0, s.age_hours) * 3600)), base);
  int64_t restarts = std::clamp<int64_t>(s.restarts_recent, 0, kMaxRestartsCounted);
  Add(terms, "restarts_recent",
      absl::StrCat(s.restarts_recent, s.restarts_recent == 1 ? " health loss" : " health losses",
                   " recently"),
      base * kRepairExcess * static_cast<double>(restarts));
}

// How full a bounded resource is, 0..1, from its value, trend and early time to exhaustion.
double Fill(const FeatureSignal& f) {
  double rise = std::max(0.0, f.trend_per_hour) * f.exhaustion_seconds / 3600;
  if (f.exhaustion_seconds <= 0 || rise <= 0 || !(f.value > 0)) {
    return 1.0;
  }
  return f.value / (f.value + rise);
}

double FillWeight(const FeatureSignal& f) {
  return std::clamp((Fill(f) - kFillWeightStart) / (kFillWeightFull - kFillWeightStart), 0.0, 1.0);
}

void AddMetric(const std::string& metric, const FeatureSignal& f, double h,
               std::vector<HazardTerm>& terms) {
  const bool mature = f.samples >= kMinTrendSamples;
  const bool towards_limit = mature && std::isfinite(f.exhaustion_seconds);
  const double trend = mature ? f.trend_per_hour : 0.0;
  if (towards_limit) {
    double t = std::max(f.exhaustion_seconds, kMinExhaustionSeconds);
    Add(terms, absl::StrCat(metric, ".exhaustion_hours"),
        DescribeExhaustion(metric, f.exhaustion_seconds),
        FillWeight(f) * kExhaustion * std::pow(h * 3600 / t, 2));
  }
  const bool anomalous = f.anomaly_recent_max >= kAnomalyAlertThreshold;
  if (IsErrorRateMetric(metric) && std::isfinite(f.value)) {
    double projected = std::max(0.0, f.value) + std::max(0.0, trend) * h;
    double factor = anomalous ? kAnomalousErrorFactor : 1.0;
    Add(terms, absl::StrCat(metric, ".value"),
        absl::StrCat(
            MetricLabel(metric), " ", FormatMetricValue(metric, f.value),
            anomalous ? " (anomalous)" : "",
            trend > 0 ? absl::StrCat(", rising to ", FormatMetricValue(metric, projected)) : ""),
        factor * kErrorRateHazard * h * std::pow(projected / kErrorRateReference, 2));
  }
  if (IsLatencyMetric(metric) && f.value > 0) {
    // The trend counts only when the estimator found it significant (heading for the limit).
    double growth = towards_limit
                        ? std::max(0.0, trend) * h / std::max(f.value, kLatencyGrowthFloorSeconds)
                        : 0.0;
    Add(terms, absl::StrCat(metric, ".trend_per_hour"),
        absl::StrFormat("%s %s and rising, to %s within %s", MetricLabel(metric),
                        FormatMetricValue(metric, f.value),
                        FormatMetricValue(metric, f.value + std::max(0.0, trend) * h),
                        ApproximateDuration(h * 3600)),
        kLatencyGrowth * std::pow(growth / kLatencyGrowthReference, 2));
    double z = std::min(f.forecast_z, 3 * kLatencySurpriseZ);
    if (z > kLatencySurpriseZ) {
      Add(terms, absl::StrCat(metric, ".forecast_z"),
          absl::StrFormat("%s %s, %.0f typical errors above its forecast", MetricLabel(metric),
                          FormatMetricValue(metric, f.value), f.forecast_z),
          kLatencySurpriseHazard * h * std::pow(z / kLatencySurpriseZ, 2));
    }
  }
  if (IsScrapeHealthMetric(metric) && f.value < 0.5) {
    Add(terms, absl::StrCat(metric, ".value"), "scrapes failing (up = 0)", kScrapeDownHazard * h);
  }
}

void AddAnomalies(const InstanceSignals& s, double h, std::vector<HazardTerm>& terms) {
  std::vector<std::string> anomalous;
  for (const auto& [metric, f] : s.features) {
    if (f.anomaly_recent_max >= kAnomalyAlertThreshold) {
      anomalous.push_back(MetricLabel(metric));
    }
  }
  if (anomalous.size() < 2) {
    return;
  }
  double a = std::min<double>(static_cast<double>(anomalous.size()), kMaxAnomaliesCounted) - 1;
  std::string which;
  for (size_t i = 0; i < anomalous.size(); ++i) {
    absl::StrAppend(&which, i == 0 ? "" : (i + 1 == anomalous.size() ? " and " : ", "),
                    anomalous[i]);
  }
  Add(terms, "anomalous_metrics",
      absl::StrCat(which, anomalous.size() == 1 ? " anomalous" : " anomalous at once"),
      kAnomalyHazard * a * a * h);
}

void AddVulnerabilities(const InstanceSignals& s, double h, std::vector<HazardTerm>& terms) {
  const VulnerabilityMatch* worst = nullptr;
  for (const VulnerabilityMatch& v : s.vulnerabilities) {
    if (worst == nullptr || v.severity > worst->severity) {
      worst = &v;
    }
  }
  if (worst == nullptr) {
    return;
  }
  double severity = std::clamp(worst->severity, 0.0, 10.0);
  std::string name = worst->id.empty() ? "a known vulnerability" : worst->id;
  std::string where =
      worst->package.empty() ? "" : absl::StrCat(" in ", worst->package, " ", worst->version);
  Add(terms, "vulnerability_max_severity",
      absl::StrFormat("%s%s (CVSS %.1f)%s", name, where, severity,
                      s.vulnerabilities.size() > 1
                          ? absl::StrCat(" and ", s.vulnerabilities.size() - 1, " more")
                          : ""),
      kVulnerabilityHazard * std::pow(severity / 10, 4) * h);
}

}  // namespace

double PriorRiskModel::AgeHazardPerHour(double age_hours) {
  double months = std::max(0.0, age_hours) / kHoursPerMonth;
  for (const AgeBand& band : kAgeBands) {
    if (months < band.until_months) {
      return band.per_node_year / kHoursPerYear;
    }
  }
  return kAgeBands[std::size(kAgeBands) - 1].per_node_year / kHoursPerYear;
}

std::vector<HazardTerm> PriorRiskModel::Hazards(const InstanceSignals& signals) const {
  const double h = Hours(horizon_);
  std::vector<HazardTerm> terms;
  AddBase(signals, h, terms);
  for (const auto& [metric, f] : signals.features) {
    AddMetric(metric, f, h, terms);
  }
  AddAnomalies(signals, h, terms);
  AddVulnerabilities(signals, h, terms);
  std::stable_sort(terms.begin(), terms.end(), [](const HazardTerm& a, const HazardTerm& b) {
    return a.cumulative > b.cumulative;
  });
  return terms;
}

RiskAssessment PriorRiskModel::Assess(const InstanceSignals& signals) const {
  std::vector<HazardTerm> terms = Hazards(signals);
  double total = 0;
  for (const HazardTerm& t : terms) {
    total += t.cumulative;
  }
  RiskAssessment out;
  out.horizon = horizon_;
  out.model_version = kVersion;
  out.probability = 1 - std::exp(-total);
  for (size_t i = 0; i < terms.size() && i < 5; ++i) {
    // Each term's share of the probability, in proportion to its share of the hazard.
    out.top_factors.push_back(
        {terms[i].name, terms[i].description, out.probability * terms[i].cumulative / total});
  }
  return out;
}

}  // namespace shadowfleet

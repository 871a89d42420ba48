// The risk prior: the probability of failure within the horizon before the fleet has taught
// a model anything. It adds up hazards (expected failures per hour) for what is known to
// precede failures and turns the sum into a probability:
//
//   P = 1 - exp(-(h_age + h_exhaustion + h_error_rate + h_latency + h_scrapes + h_anomalies
//                 + h_vulnerabilities) * H)
//
// - h_age: the base failure rate of a server by age, measured on the Los Alamos failure
//   records (`shadowfleet eval lanl`), raised for recent health losses by the excess rate
//   those records show in the day after a repair;
// - h_exhaustion: a bounded resource (memory, disk) whose early time to exhaustion T is near
//   or inside the horizon: cumulative hazard 2.3 (H/T)^2;
// - h_error_rate: the error rate, projected over the horizon when it has a trend, relative
//   to 5 %; more when the error rate is anomalous;
// - h_latency: latency projected to grow by a large share of itself within the horizon, and
//   (weakly) latency far from its forecast;
// - h_scrapes: the instance did not answer its last scrape ("up" = 0);
// - h_anomalies: several metrics anomalous at once;
// - h_vulnerabilities: known vulnerabilities, by the worst CVSS base score.
//
// Every constant, and why it has its value, is in prior_risk_model.cc and docs/prediction.md.
// Sized so that a healthy instance scores near 0, a resource exhausted within the horizon,
// runaway latency or a 10 % error rate score above 0.7 (the default switchover threshold),
// and no single weak sign (one anomaly, one failed scrape, a critical vulnerability) does.
#pragma once

#include <string>
#include <vector>

#include "shadowfleet/prediction/risk_model.h"

namespace shadowfleet {

// One term of the sum: its cumulative hazard over the horizon (hazard per hour x H).
struct HazardTerm {
  std::string name;  // Feature-style name, e.g. "memory_used_ratio.exhaustion_hours".
  std::string description;
  double cumulative = 0;
};

// Stateless; thread-safe.
class PriorRiskModel : public RiskModel {
 public:
  explicit PriorRiskModel(absl::Duration horizon = absl::Minutes(30)) : horizon_(horizon) {}

  RiskAssessment Assess(const InstanceSignals& signals) const override;
  std::string version() const override { return kVersion; }
  absl::Duration horizon() const override { return horizon_; }

  // The terms that are not zero, largest first.
  std::vector<HazardTerm> Hazards(const InstanceSignals& signals) const;

  // Failures per hour of a server at `age_hours` since it went live (Los Alamos records,
  // nodes of at most four processors).
  static double AgeHazardPerHour(double age_hours);

  static constexpr char kVersion[] = "prior-1";

 private:
  absl::Duration horizon_;
};

}  // namespace shadowfleet

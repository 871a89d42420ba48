// What the prediction engine knows about one instance at a moment: for each telemetry
// feature, its latest value and what the per-series models make of it (anomaly likelihood,
// forecast error, trend, time to exhaustion), plus the instance's age, software stack and
// known vulnerabilities. Risk models read only this, so that the same model serves live
// scoring, training on the fleet's history and offline evaluation.
#pragma once

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace shadowfleet {

struct FeatureSignal {
  double value = std::nan("");
  double anomaly = 0;             // Likelihood of the latest sample, in [0, 1].
  double anomaly_recent_max = 0;  // Highest likelihood over the recent window.
  double forecast_z = 0;          // |latest - forecast| / typical forecast error.
  double trend_per_hour = 0;      // Fitted change per hour (bounded features only).
  // Seconds until a bounded feature reaches its limit: the early end of the interval
  // (infinity when it is not heading there, 0 when already there).
  double exhaustion_seconds = std::numeric_limits<double>::infinity();
  int64_t samples = 0;
  absl::Time updated = absl::InfinitePast();
};

// A known vulnerability affecting a package of the instance's software stack.
struct VulnerabilityMatch {
  std::string id;       // e.g. "DSA-5532-1" or "CVE-2023-5678".
  std::string package;  // Name in the software stack.
  std::string version;  // Installed version.
  double severity = 0;  // CVSS base score, 0..10 (0 when unknown).
};

struct InstanceSignals {
  std::string instance_id;
  std::string group;
  absl::Time as_of = absl::InfinitePast();
  std::map<std::string, FeatureSignal> features;
  double age_hours = 0;                         // Since the live replica was created.
  std::map<std::string, std::string> software;  // Package -> version, from the ledger.
  std::vector<VulnerabilityMatch> vulnerabilities;
  int64_t restarts_recent = 0;  // Live health losses in the recent window.
};

}  // namespace shadowfleet

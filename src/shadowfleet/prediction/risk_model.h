// Risk models: the probability that an instance fails within a horizon, from its signals
// (prediction/signals.h), with the factors that drove it in plain words. The engine uses a
// learnt model once one has been trained on the fleet's own failures and promoted, and a
// documented prior before that.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"

#include "shadowfleet/prediction/signals.h"

namespace shadowfleet {

struct RiskFactor {
  std::string name;         // Stable identifier, e.g. "memory_used_ratio.exhaustion".
  std::string description;  // Plain words: "memory will be exhausted in about 40 minutes".
  double contribution = 0;  // Share of the risk it explains (model-specific units, > 0 raises).
};

struct RiskAssessment {
  double probability = 0;  // P(failure within `horizon`), calibrated.
  absl::Duration horizon = absl::Minutes(30);
  std::vector<RiskFactor> top_factors;  // Largest contributions first, at most five.
  std::string model_version;            // "prior-1" (the prior), or the learnt model's version.
};

enum class Recommendation { kHealthy, kWatch, kRefreshNow };
const char* RecommendationName(Recommendation recommendation);

// kRefreshNow at or above `refresh_threshold`, kWatch at or above `watch_threshold`.
Recommendation Recommend(double probability, double refresh_threshold, double watch_threshold);

// Thread-safe: Assess() may be called concurrently.
class RiskModel {
 public:
  virtual ~RiskModel() = default;
  virtual RiskAssessment Assess(const InstanceSignals& signals) const = 0;
  virtual std::string version() const = 0;
  virtual absl::Duration horizon() const = 0;
};

}  // namespace shadowfleet

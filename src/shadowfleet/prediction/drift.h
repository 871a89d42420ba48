// Feature drift: whether the examples the fleet produces now look like the ones the current
// model was trained on, measured per feature by the population stability index (PSI),
//   PSI = sum over bins of (recent share - training share) * ln(recent share / training share),
// over the training values' deciles plus a bin for missing values. By the usual reading, below
// 0.1 nothing moved, 0.1-0.2 a little, above 0.2 enough to retrain.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include <nlohmann/json.hpp>

namespace shadowfleet {

// The distribution of one feature in a training window: bin edges at its quantiles and the
// share of values in each bin, plus the share missing (NaN).
class FeatureHistogram {
 public:
  static FeatureHistogram Fit(absl::Span<const float> values, int bins = 10);

  // The PSI of `values` against this histogram. Shares are floored at 1e-4 so that an empty
  // bin on either side costs a bounded amount instead of infinity.
  double Psi(absl::Span<const float> values) const;

  nlohmann::json ToJson() const;
  static absl::StatusOr<FeatureHistogram> FromJson(const nlohmann::json& json);

 private:
  std::vector<double> Shares(absl::Span<const float> values) const;

  std::vector<float> edges_;    // Increasing; bin i holds values in [edges_[i-1], edges_[i]).
  std::vector<double> shares_;  // edges_.size() + 1 bins, then the missing share.
};

}  // namespace shadowfleet

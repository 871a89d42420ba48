// Calibration: turning a classifier's scores into probabilities that mean what they say (of
// the instances scored 0.2, about one in five fails). Both maps are fitted on out-of-fold
// scores, i.e. scores of examples the classifier did not train on, because a classifier's
// scores on its own training data are over-confident.
//
// - Platt scaling: p = sigmoid(a * logit(s) + b), two parameters; smooth, needs little data.
// - Isotonic regression: the best non-decreasing step function of the score
//   (pool-adjacent-violators), interpolated linearly between block ends; needs more data.
//
// Example:
//   Calibration c = Calibration::FitPlatt(oof_scores, labels);
//   double p = c.Apply(model_score);
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include <nlohmann/json.hpp>

namespace shadowfleet {

enum class CalibrationMethod { kNone, kPlatt, kIsotonic };

const char* CalibrationMethodName(CalibrationMethod method);

// A fitted score-to-probability map. Immutable once fitted; thread-safe to share.
class Calibration {
 public:
  // The identity map (scores are used as they are, clipped to [0, 1]).
  Calibration() = default;

  // Scores are probabilities from a classifier, labels 0 or 1. Both fits need at least one
  // example; with a single class they still return a valid (constant-leaning) map.
  static Calibration FitPlatt(absl::Span<const double> scores, absl::Span<const double> labels);
  static Calibration FitIsotonic(absl::Span<const double> scores, absl::Span<const double> labels);
  static Calibration Fit(CalibrationMethod method, absl::Span<const double> scores,
                         absl::Span<const double> labels);

  // The calibrated probability of `score`, in [0, 1].
  double Apply(double score) const;

  CalibrationMethod method() const { return method_; }
  double platt_a() const { return a_; }
  double platt_b() const { return b_; }
  const std::vector<double>& knots_x() const { return x_; }
  const std::vector<double>& knots_y() const { return y_; }

  // {"method": "platt", "a": .., "b": ..} or {"method": "isotonic", "x": [..], "y": [..]} or
  // {"method": "none"}.
  nlohmann::json ToJson() const;
  // INVALID_ARGUMENT naming the field for a malformed value.
  static absl::StatusOr<Calibration> FromJson(const nlohmann::json& json);

 private:
  CalibrationMethod method_ = CalibrationMethod::kNone;
  double a_ = 1.0;
  double b_ = 0.0;
  std::vector<double> x_;  // Isotonic knots: increasing scores ...
  std::vector<double> y_;  // ... and their non-decreasing probabilities.
};

// Mean squared difference between probabilities and 0/1 outcomes (lower is better).
double BrierScore(absl::Span<const double> probabilities, absl::Span<const double> labels);

// Mean negative log-likelihood of the outcomes. Probabilities are clipped to
// [1e-6, 1 - 1e-6] so that one confident mistake costs at most 13.8 instead of infinity.
double LogLoss(absl::Span<const double> probabilities, absl::Span<const double> labels);

}  // namespace shadowfleet

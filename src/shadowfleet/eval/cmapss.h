// The C-MAPSS benchmark for the failure-risk machinery: from each engine's causal features
// (eval/cmapss_features.h), gradient-boosted trees estimate the remaining useful life (RUL,
// capped at 125 cycles) and the probability of failure within 30 cycles, the latter calibrated
// by Platt scaling fitted on out-of-fold scores of the training engines.
//
// Everything is fitted on the run-to-failure training engines. The test engines (cut off
// before failure) and their true remaining life are read only to score the frozen model.
//
// Example:
//   absl::StatusOr<nlohmann::json> r = EvaluateCmapss(train, test, true_rul, {});
//   double rmse = (*r)["rmse"];
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include <nlohmann/json.hpp>

#include "shadowfleet/eval/cmapss_data.h"
#include "shadowfleet/eval/cmapss_features.h"
#include "shadowfleet/prediction/calibration.h"
#include "shadowfleet/prediction/gbm.h"

namespace shadowfleet {

// "Failure within the horizon" means a true remaining life of at most this many cycles.
inline constexpr double kCmapssHorizonCycles = 30.0;

struct CmapssOptions {
  GbmParams regressor = DefaultRegressor();
  GbmParams classifier = DefaultClassifier();
  CalibrationMethod calibration = CalibrationMethod::kPlatt;
  int calibration_folds = 5;  // Out-of-fold scores for the calibration, by engine.
  uint64_t seed = 0;
  int nthread = 2;

  // The prototype's settings, chosen by cross-validation on training engines.
  static GbmParams DefaultRegressor();
  static GbmParams DefaultClassifier();
};

// Per row of a set (units in order): estimated RUL in [0, 125] and P(failure within 30).
struct CmapssPredictions {
  std::vector<double> rul;
  std::vector<double> probability;
};

// Thread-compatible; Predict() is const and may run concurrently with itself.
class CmapssModel {
 public:
  // INVALID_ARGUMENT for an empty training set or fewer engines than calibration folds;
  // XGBoost's errors otherwise.
  static absl::StatusOr<CmapssModel> Fit(const CmapssSet& train, const CmapssOptions& options);

  absl::StatusOr<CmapssPredictions> Predict(const CmapssSet& set) const;

  const CmapssPreprocessor& preprocessor() const { return prep_; }
  const Calibration& calibration() const { return calibration_; }

 private:
  CmapssModel(CmapssPreprocessor prep, Gbm regressor, Gbm classifier, Calibration calibration)
      : prep_(std::move(prep)),
        regressor_(std::move(regressor)),
        classifier_(std::move(classifier)),
        calibration_(std::move(calibration)) {}

  CmapssPreprocessor prep_;
  Gbm regressor_;
  Gbm classifier_;
  Calibration calibration_;
};

struct CmapssMetrics {
  size_t n = 0;
  size_t positives = 0;  // True RUL <= 30.
  double rmse = 0;       // Against true RUL capped at 125.
  double mae = 0;
  double phm08_score = 0;  // sum of exp(-d/13)-1 (early) or exp(d/10)-1 (late), d = est - true.
  double precision = 0;    // Of P(failure within 30) >= 0.5.
  double recall = 0;
  double brier = 0;

  nlohmann::json ToJson() const;
};

// Scores estimates against the true remaining life (uncapped; capped inside where the metric
// says so). All three spans have the same length.
CmapssMetrics ScoreCmapss(absl::Span<const double> rul, absl::Span<const double> probability,
                          absl::Span<const double> true_rul);

// Splits unit indices [0, units) into k folds after a seeded shuffle.
std::vector<std::vector<size_t>> UnitFolds(size_t units, int k, uint64_t seed);

// Trains on `train`, then scores the last cycle of every test unit. The JSON has the metrics
// under rmse, phm08_score, precision, recall, brier (and mae, units, positives), and what the
// model is: conditions, kept sensors, feature count, calibration, timings.
absl::StatusOr<nlohmann::json> EvaluateCmapss(const CmapssSet& train, const CmapssSet& test,
                                              const std::vector<double>& true_rul,
                                              const CmapssOptions& options);

// k-fold cross-validation by engine on the training set alone: metrics over every held-out
// cycle ("allCycles"), and over one random cut-off cycle (>= 30) per engine, like the test
// set, averaged over `draws` draws ("truncated": mean and sd of each metric).
absl::StatusOr<nlohmann::json> CrossValidateCmapss(const CmapssSet& train,
                                                   const CmapssOptions& options, int folds,
                                                   int draws);

}  // namespace shadowfleet

// Features of the C-MAPSS model, computed causally and with bounded state per engine, so that
// the same code could score engines as their cycles arrive:
//
// 1. Operating conditions: engines fly in a few discrete regimes (one in FD001/FD003, six in
//    FD002/FD004). The regimes are found by k-means on the three settings, choosing the
//    smallest k whose clusters are tight; pure noise (a single regime) never is.
// 2. Each sensor is standardised with the mean and spread of its own regime, sensors that
//    carry no degradation signal (|correlation with capped remaining life| < 0.2, or
//    constant) are dropped, and a linear health index (ridge regression of capped remaining
//    life on the kept sensors) summarises them.
// 3. Per engine and cycle: its age in cycles; each kept sensor's EWMA and whole-history
//    least-squares slope; the health index, its EWMAs, recent slopes, drift from the engine's
//    first 20 cycles and whole-history slope.
//
// Everything is fitted on training engines only.
#pragma once

#include <string>
#include <vector>

#include "shadowfleet/eval/cmapss_data.h"
#include "shadowfleet/prediction/gbm.h"

namespace shadowfleet {

// Remaining life is capped here for training and scoring: early in life an engine's sensors
// cannot tell 200 cycles left from 300, so the model is asked for "125 or more".
inline constexpr double kCmapssRulCap = 125.0;

// The regimes of the operating settings. Assignment is to the nearest centroid in settings
// scaled by their overall standard deviation.
class OperatingConditions {
 public:
  // Settings: rows x kCmapssSettings, row-major.
  static OperatingConditions Fit(const std::vector<double>& settings);
  int Assign(const double* setting) const;
  int count() const { return static_cast<int>(centroids_.size()); }

 private:
  std::vector<int> dims_;                       // Settings that vary at all.
  std::vector<double> scale_;                   // Their standard deviations.
  std::vector<std::vector<double>> centroids_;  // In scaled units, over dims_.
};

// Regime-wise standardisation, sensor selection and the health index.
class CmapssPreprocessor {
 public:
  static CmapssPreprocessor Fit(const CmapssSet& train);

  // The standardised kept sensors of row `row` of `unit`.
  void Normalise(const CmapssUnit& unit, size_t row, double* z) const;
  double HealthIndex(const double* z) const;

  const OperatingConditions& conditions() const { return conditions_; }
  const std::vector<std::string>& kept_sensors() const { return kept_names_; }
  size_t kept() const { return keep_.size(); }

 private:
  OperatingConditions conditions_;
  size_t sensors_ = 0;
  std::vector<double> mean_;    // conditions x sensors
  std::vector<double> stddev_;  // conditions x sensors
  std::vector<size_t> keep_;
  std::vector<std::string> kept_names_;
  double hi_intercept_ = 0;
  std::vector<double> hi_weights_;
};

// The names of the features, in the order FeatureMatrix() writes them.
std::vector<std::string> CmapssFeatureNames(const std::vector<std::string>& kept_sensors);

// One row of features per row of `set`, units in order, each engine's state starting afresh.
DenseMatrix CmapssFeatureMatrix(const CmapssSet& set, const CmapssPreprocessor& prep);

}  // namespace shadowfleet

// Turning a fleet's history into a calibrated classifier of "fails within the horizon":
// labelling feature vectors with what happened after them, and training gradient-boosted trees
// whose scores are calibrated on out-of-fold predictions (folds by instance, so that one
// instance's correlated examples never sit on both sides of a fold).
//
// Labels, for an example of instance I taken at time t and a horizon H:
//   positive   I failed in (t, t + H];
//   negative   I was observed alive through t + H: no failure in (t, t + H], no switch-out in
//              (t, t + H), and t + H is not after the end of the data;
//   censored   I was switched out in (t, t + H) before failing (it never got the chance to
//              fail: right-censored), or t + H is after the end of the data. Censored
//              examples are neither positive nor negative: they are left out.
// Whichever comes first after t, a failure or a switch-out, decides: after either, the
// instance runs on a new replica and later events belong to that one.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include <nlohmann/json.hpp>

#include "shadowfleet/prediction/calibration.h"
#include "shadowfleet/prediction/gbm.h"

namespace shadowfleet {

struct RiskExample {
  std::string instance;
  absl::Time at;
  std::vector<float> features;
};

// What happened to an instance's live replica: it failed (crash, failed health checks, a
// failure reported through the API) or it was switched out before failing.
struct InstanceEvent {
  enum class Type { kFailure, kSwitchedOut };
  Type type = Type::kFailure;
  absl::Time at;
  std::string kind;  // For failures: "crash", "health", "reported" ...
};

// Each instance's events in time order.
using InstanceHistory = std::map<std::string, std::vector<InstanceEvent>>;

enum class ExampleLabel { kPositive, kNegative, kCensored };

ExampleLabel LabelExample(const std::string& instance, absl::Time at, absl::Duration horizon,
                          const InstanceHistory& history, absl::Time data_end);

// The labelled examples (censored ones left out), in the order given.
struct LabelledSet {
  DenseMatrix x;
  std::vector<float> y;
  std::vector<absl::Time> at;
  std::vector<std::string> instance;
  int64_t censored = 0;

  size_t size() const { return y.size(); }
  size_t positives() const;
  // The rows at `indices`, in that order (censored count not carried).
  LabelledSet Select(const std::vector<size_t>& indices) const;
};

// `history` must be sorted by time per instance. Examples with a feature count other than
// `features` are skipped.
LabelledSet LabelExamples(const std::vector<RiskExample>& examples, size_t features,
                          absl::Duration horizon, const InstanceHistory& history,
                          absl::Time data_end);

// The newest `holdout_fraction` of examples by time, held back for validation, and the older
// ones to train on. Training examples whose horizon reaches the cut are left out (purged), so
// that no failure labels examples on both sides.
struct TimeSplit {
  LabelledSet train;
  LabelledSet holdout;
  absl::Time cut;
};
TimeSplit SplitByTime(const LabelledSet& set, double holdout_fraction, absl::Duration horizon);

struct RiskTrainingOptions {
  GbmParams params = DefaultParams();
  CalibrationMethod calibration = CalibrationMethod::kPlatt;
  int folds = 5;  // Out-of-fold calibration folds, by instance (fewer if fewer instances).
  uint64_t seed = 0;

  // Small trees and strong shrinkage: failures are rare and few, and a fleet's examples are
  // strongly correlated within an instance, so the effective sample is small.
  static GbmParams DefaultParams();
};

struct TrainedRiskClassifier {
  Gbm gbm;
  Calibration calibration;
  nlohmann::json metrics;  // examples, positives, instances, oof {brier, logLoss}.
};

// FAILED_PRECONDITION when there are no positives or no negatives, or fewer than two
// instances (out-of-fold calibration needs them); XGBoost's errors otherwise.
absl::StatusOr<TrainedRiskClassifier> TrainRiskClassifier(const LabelledSet& set,
                                                          const RiskTrainingOptions& options);

}  // namespace shadowfleet

// Training and scoring risk models from a fleet's history in files (eval/fleet_history.h),
// with the same per-series machinery live scoring uses: every instance's rows are fed, one
// row at a time and in time order, into a SignalTracker, and the risk features of each row
// come from the tracker's snapshot after it. A model trained here therefore sees exactly what
// it would see live, and scores here are what the daemon would have said at each row.
//
// After a failure (or a switch-out) in the failures file, the instance starts afresh on a new
// replica: its per-series models are dropped and its age restarts, as live.
//
// Example:
//   absl::StatusOr<nlohmann::json> summary =
//       TrainRiskModelFromFiles("metrics.csv", "failures.csv", "model.json", {});
//   ScoreRiskFromFiles("model.json", "metrics.csv", "risk.csv", "", {});
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include <nlohmann/json.hpp>

#include "shadowfleet/eval/fleet_history.h"
#include "shadowfleet/prediction/risk_features.h"
#include "shadowfleet/prediction/risk_training.h"

namespace shadowfleet {

// Limits of the bounded metrics of the default telemetry features: memory, disk and process
// memory ratios run out at 1.
std::map<std::string, double> DefaultMetricLimits();

struct OfflineRiskOptions {
  absl::Duration horizon = absl::Minutes(30);
  std::map<std::string, double> limits;  // Added to (or replacing) DefaultMetricLimits().
  RiskTrainingOptions training;
  double holdout_fraction = 0.2;  // Newest share of examples for the reported validation.
  size_t min_positives = 5;
  int workers = 2;      // Instances replayed in parallel; also XGBoost's threads.
  std::string version;  // Of the trained model; empty: "offline-<UTC time>".
};

// One row of the history after replay: the row and its risk features.
struct ReplayedRow {
  const MetricRow* row;
  std::vector<float> features;
};

// Replays every instance (instances in parallel on `workers` threads, each instance's rows in
// order). `events` resets an instance's tracker at each of its failures and switch-outs.
std::map<std::string, std::vector<ReplayedRow>> ReplayFleet(
    const FleetMetrics& metrics, const std::vector<FleetEvent>& events,
    const std::map<std::string, double>& limits, const RiskFeatures& features, int workers);

// Trains a calibrated model on every labelled row and writes it to `model_path` (the format of
// the store's risk.model objects, plus the limits used). Before that, a model trained on the
// older rows is validated on the newest `holdout_fraction` against the prior. The summary
// JSON has the counts, the validation and the out-of-fold figures. FAILED_PRECONDITION when
// there are too few labelled failures.
absl::StatusOr<nlohmann::json> TrainRiskModelFromFiles(const std::string& metrics_path,
                                                       const std::string& failures_path,
                                                       const std::string& model_path,
                                                       const OfflineRiskOptions& options);

// Writes `output_path`: instance,timestamp,risk,top_factor for every row of the metrics file,
// in file order, each scored from that row and the ones before it. `failures_path` may be
// empty. The summary JSON has counts of rows and of rows at or above 0.7.
absl::StatusOr<nlohmann::json> ScoreRiskFromFiles(const std::string& model_path,
                                                  const std::string& metrics_path,
                                                  const std::string& output_path,
                                                  const std::string& failures_path, int workers);

}  // namespace shadowfleet

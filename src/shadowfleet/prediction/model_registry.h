// The learning loop of the risk engine. The model registry
//   - records what the fleet teaches: one feature vector per instance per minute (stored as
//     compressed chunks, series "risk.examples/<instance>", the instances listed in the object
//     "risk.registry/instances"), failures (crash, failed health
//     checks, failures reported through the API) and switch-outs (events "risk.failure" and
//     "risk.switched_out");
//   - trains a calibrated gradient-boosted classifier on schedule, when the prior is still in
//     use and new failures have arrived, and when the features drift (population stability
//     index above 0.2 between the recent window and the current model's training data);
//   - keeps every version in the store (objects of kind "risk.model": the XGBoost model in
//     base64, calibration, feature names, metrics, training window, promoted or not and why);
//   - promotes a candidate only if it is no worse than the current model (or the prior) on
//     held-back recent data: the newest 20 % of labelled examples by time, by both Brier score
//     and log loss. Training examples whose horizon reaches into the held-back period are left
//     out of training, so the two never share a failure.
// Current() is the prior until a learnt model has been promoted.
//
// Labels follow prediction/risk_training.h: an instance switched out before it could fail is
// right-censored, and its examples whose horizon reaches past the switch-out are excluded.
//
// Thread-safety: all methods are thread-safe. RecordExample/RecordFailure/RecordCensored are
// cheap (examples are buffered; failures and switch-outs are written at once) and meant for
// the risk engine's thread; RetrainIfDue() reads and trains for seconds to minutes and belongs
// on a background thread; Current() may be called from anywhere and returns a model that stays
// valid after a promotion replaces it.
//
// Example (the daemon):
//   ModelRegistry registry(store, &RealClock(), {});
//   SF_RETURN_IF_ERROR(registry.Load());
//   RiskEngine engine(..., &registry, ...);        // Feeds examples, failures, switch-outs.
//   every hour, on a worker: registry.RetrainIfDue();
//   on shutdown: registry.Flush();
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include <nlohmann/json.hpp>

#include "shadowfleet/common/clock.h"
#include "shadowfleet/prediction/drift.h"
#include "shadowfleet/prediction/prior_risk_model.h"
#include "shadowfleet/prediction/risk_engine.h"
#include "shadowfleet/prediction/risk_features.h"
#include "shadowfleet/prediction/risk_training.h"
#include "shadowfleet/store/store.h"

namespace shadowfleet {

class GbmRiskModel;

inline constexpr char kRiskModelObject[] = "risk.model";
inline constexpr char kRiskModelCurrentObject[] = "risk.model.current";
inline constexpr char kRiskRegistryObject[] = "risk.registry";
inline constexpr char kRiskExampleSeriesPrefix[] = "risk.examples/";
inline constexpr char kRiskFailureEvent[] = "risk.failure";
inline constexpr char kRiskSwitchedOutEvent[] = "risk.switched_out";

struct ModelRegistryOptions {
  absl::Duration horizon = absl::Minutes(30);
  std::vector<std::string> metrics = RiskFeatures::DefaultMetrics();
  absl::Duration example_interval = absl::Minutes(1);  // At most one example per instance.
  size_t examples_per_chunk = 10;                      // Buffered examples per store write.

  absl::Duration retrain_interval = absl::Hours(24);
  // How often drift (and, under the prior, new failures) is checked between scheduled runs.
  absl::Duration check_interval = absl::Hours(1);
  double drift_threshold = 0.2;                   // Population stability index.
  absl::Duration drift_window = absl::Hours(24);  // "Recent" for the drift check.
  absl::Duration training_window = absl::Hours(24 * 30);

  size_t min_positives = 5;  // Labelled failures needed to train.
  size_t min_examples = 100;
  double holdout_fraction = 0.2;
  // A candidate is promoted when its held-back Brier score and log loss are at most the
  // incumbent's plus these margins. 0: strictly no worse.
  double brier_margin = 0;
  double log_loss_margin = 0;

  RiskTrainingOptions training;
};

// What RetrainIfDue() or Retrain() did.
struct RetrainResult {
  std::string trigger;  // "schedule", "failures", "drift", "manual"; empty when not due.
  bool trained = false;
  bool promoted = false;
  std::string version;  // The candidate's version, when one was trained.
  std::string reason;   // Why it was (not) trained or (not) promoted, in words.
  double drift = 0;     // Highest PSI found by the drift check, when one ran.
  std::string drift_feature;
  nlohmann::json metrics;  // Candidate and incumbent on the held-back data, training figures.

  nlohmann::json ToJson() const;
};

struct ModelVersionInfo {
  std::string version;
  absl::Time created;
  bool promoted = false;  // Passed its promotion check when it was trained.
  bool current = false;   // Serving now.
  std::string reason;
  nlohmann::json metrics;
  absl::Time window_start;
  absl::Time window_end;
};

struct ModelRegistryStats {
  int64_t examples = 0;           // Accepted by RecordExample.
  int64_t examples_too_soon = 0;  // Dropped: within example_interval of the previous one.
  int64_t failures = 0;
  int64_t switch_outs = 0;
  int64_t write_errors = 0;  // Store writes that failed (logged as warnings).
};

class ModelRegistry : public RiskLearner {
 public:
  // `store` and `clock` must outlive the registry.
  ModelRegistry(Store* store, const Clock* clock, ModelRegistryOptions options = {});
  ~ModelRegistry() override;

  // Reads the registry's state and reinstates the promoted model, if any. A stored model
  // that no longer loads is reported (DATA_LOSS) and the prior stays in use.
  absl::Status Load();

  std::shared_ptr<const RiskModel> Current() const override;
  void RecordExample(const InstanceSignals& signals, absl::Time at) override;
  void RecordFailure(const std::string& instance_id, absl::Time at,
                     const std::string& kind) override;
  void RecordCensored(const std::string& instance_id, absl::Time at) override;

  // Writes buffered examples to the store.
  absl::Status Flush();

  // Trains (and maybe promotes) if a trigger is due; otherwise returns a result with an empty
  // trigger. Errors are store or XGBoost failures; too little data is not an error (trained
  // stays false and reason says what is missing).
  absl::StatusOr<RetrainResult> RetrainIfDue();
  // Trains now, whatever the schedule.
  absl::StatusOr<RetrainResult> Retrain(const std::string& trigger = "manual");

  // Every stored version, oldest first.
  absl::StatusOr<std::vector<ModelVersionInfo>> Versions() const;

  ModelRegistryStats stats() const;
  const RiskFeatures& features() const { return features_; }

 private:
  struct Buffer {
    std::vector<RiskExample> examples;
    absl::Time last = absl::InfinitePast();
  };
  struct State {
    absl::Time last_training = absl::InfinitePast();
    absl::Time last_check = absl::InfinitePast();
    int64_t failures_at_last_training = 0;
  };
  struct Served {
    std::shared_ptr<const RiskModel> model;
    std::vector<FeatureHistogram> histograms;  // Of its training data; empty for the prior.
  };

  absl::Status WriteChunk(const std::string& instance, std::vector<RiskExample> examples);
  absl::Status AppendEvent(const std::string& kind, const std::string& instance, absl::Time at,
                           const std::string& detail);
  absl::StatusOr<std::vector<RiskExample>> ReadExamples(absl::Time from, absl::Time to) const;
  absl::StatusOr<std::set<std::string>> StoredInstances() const;
  absl::StatusOr<InstanceHistory> ReadHistory(int64_t* failures) const;
  absl::Status SaveState(const State& state);
  absl::StatusOr<Served> LoadVersion(const std::string& version) const;
  absl::StatusOr<std::pair<double, std::string>> Drift(absl::Time now) const;
  absl::StatusOr<RetrainResult> Train(const std::string& trigger, absl::Time now);
  // The model in use (or the prior, when that cannot read these vectors) on `holdout`.
  absl::StatusOr<std::vector<double>> IncumbentProbabilities(
      const LabelledSet& holdout, std::shared_ptr<const RiskModel>* incumbent) const;
  // Stores a candidate and, when promoted, makes it current; then serves it.
  absl::Status StoreCandidate(std::shared_ptr<const GbmRiskModel> candidate,
                              const LabelledSet& train, const RetrainResult& result, absl::Time cut,
                              absl::Time now);
  void CountWriteError(const absl::Status& status, const char* what);

  Store* const store_;
  const Clock* const clock_;
  const ModelRegistryOptions options_;
  const RiskFeatures features_;
  const std::shared_ptr<const PriorRiskModel> prior_;

  absl::Mutex train_mu_;  // One training at a time; taken before mu_.
  absl::Mutex chunk_mu_;  // Serialises example writes, so the stored instance list only grows.
  mutable absl::Mutex mu_;
  Served served_ ABSL_GUARDED_BY(mu_);
  State state_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Buffer> buffers_ ABSL_GUARDED_BY(mu_);
  // Instances with stored examples (object "risk.registry/instances"): examples are read
  // series by series, never by scanning every chunk of the store (telemetry's too).
  std::set<std::string> instances_ ABSL_GUARDED_BY(mu_);
  ModelRegistryStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shadowfleet

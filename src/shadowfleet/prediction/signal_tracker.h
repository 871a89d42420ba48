// Turns each instance's feature samples into signals: every (instance, feature) series gets
// an anomaly detector, a Holt-Winters forecaster and, for bounded resources, a
// time-to-exhaustion estimator, all online and causal. Snapshot() gives the risk engine the
// current picture of an instance.
//
// Thread-safe: OnFeature() is called from the telemetry engine's threads, Snapshot() from the
// risk engine's.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

#include "shadowfleet/prediction/anomaly_detector.h"
#include "shadowfleet/prediction/exhaustion.h"
#include "shadowfleet/prediction/forecaster.h"
#include "shadowfleet/prediction/signals.h"
#include "shadowfleet/telemetry/telemetry_engine.h"

namespace shadowfleet {

struct SignalTrackerOptions {
  absl::Duration recent_window = absl::Minutes(10);  // For anomaly_recent_max.
  int exhaustion_window = 120;                       // Samples the trend is fitted on.
};

class SignalTracker : public FeatureSink {
 public:
  explicit SignalTracker(SignalTrackerOptions options = {}) : options_(options) {}

  void OnFeature(const std::string& instance_id, const std::string& feature, int64_t timestamp_ms,
                 double value, std::optional<double> limit) override;

  // The feature signals of an instance (empty if none were seen).
  InstanceSignals Snapshot(const std::string& instance_id) const;

  // Drops an instance's models: its live replica changed, and the new one starts afresh.
  void Forget(const std::string& instance_id);

  // Approximate bytes of model state held, for capacity planning.
  size_t StateBytes() const;

 private:
  struct Series {
    std::unique_ptr<AnomalyDetector> detector = NewAnomalyDetector();
    HoltWintersForecaster forecaster;
    std::optional<ExhaustionEstimator> exhaustion;
    std::deque<std::pair<int64_t, double>> recent_anomalies;  // (time, score > 0)
    FeatureSignal signal;
  };
  struct Instance {
    absl::Mutex mu;
    std::map<std::string, Series> series ABSL_GUARDED_BY(mu);
  };

  std::shared_ptr<Instance> Find(const std::string& instance_id, bool create) const;

  const SignalTrackerOptions options_;
  mutable absl::Mutex mu_;
  mutable std::unordered_map<std::string, std::shared_ptr<Instance>> instances_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace shadowfleet

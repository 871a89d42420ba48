#include "shadowfleet/prediction/signal_tracker.h"

#include <algorithm>
#include <cmath>

namespace shadowfleet {

std::shared_ptr<SignalTracker::Instance> SignalTracker::Find(const std::string& instance_id,
                                                             bool create) const {
  absl::MutexLock lock(&mu_);
  auto it = instances_.find(instance_id);
  if (it != instances_.end()) {
    return it->second;
  }
  if (!create) {
    return nullptr;
  }
  auto instance = std::make_shared<Instance>();
  instances_.emplace(instance_id, instance);
  return instance;
}

void SignalTracker::OnFeature(const std::string& instance_id, const std::string& feature,
                              int64_t timestamp_ms, double value, std::optional<double> limit) {
  std::shared_ptr<Instance> instance = Find(instance_id, /*create=*/true);
  absl::MutexLock lock(&instance->mu);
  Series& series = instance->series[feature];
  double seconds = static_cast<double>(timestamp_ms) / 1000.0;

  FeatureSignal& signal = series.signal;
  signal.value = value;
  signal.samples++;
  signal.updated = absl::FromUnixMillis(timestamp_ms);
  signal.anomaly = series.detector->Update(value, seconds);
  Forecast forecast = series.forecaster.Observe(value);
  signal.forecast_z = forecast.scale > 0 ? std::fabs(value - forecast.value) / forecast.scale : 0;

  // The highest anomaly likelihood over the recent window.
  int64_t cutoff = timestamp_ms - absl::ToInt64Milliseconds(options_.recent_window);
  while (!series.recent_anomalies.empty() && series.recent_anomalies.front().first < cutoff) {
    series.recent_anomalies.pop_front();
  }
  if (signal.anomaly > 0) {
    series.recent_anomalies.emplace_back(timestamp_ms, signal.anomaly);
  }
  signal.anomaly_recent_max = 0;
  for (const auto& [t, score] : series.recent_anomalies) {
    signal.anomaly_recent_max = std::max(signal.anomaly_recent_max, score);
  }

  if (limit) {
    if (!series.exhaustion) {
      ExhaustionOptions options;
      options.limit = *limit;
      options.rising = true;
      options.window = options_.exhaustion_window;
      series.exhaustion.emplace(options);
    }
    series.exhaustion->Add(seconds, value);
  }
}

InstanceSignals SignalTracker::Snapshot(const std::string& instance_id) const {
  InstanceSignals out;
  out.instance_id = instance_id;
  std::shared_ptr<Instance> instance = Find(instance_id, /*create=*/false);
  if (instance == nullptr) {
    return out;
  }
  absl::MutexLock lock(&instance->mu);
  for (auto& [name, series] : instance->series) {
    FeatureSignal signal = series.signal;
    if (series.exhaustion) {
      // The fit is the expensive part, so it is done when a snapshot is asked for, not on
      // every sample.
      ExhaustionEstimate estimate = series.exhaustion->Estimate();
      signal.trend_per_hour = estimate.slope_per_second * 3600;
      signal.exhaustion_seconds = estimate.earliest_seconds;
    }
    out.features[name] = signal;
    if (signal.updated > out.as_of || out.as_of == absl::InfinitePast()) {
      out.as_of = signal.updated;
    }
  }
  return out;
}

void SignalTracker::Forget(const std::string& instance_id) {
  absl::MutexLock lock(&mu_);
  instances_.erase(instance_id);
}

size_t SignalTracker::StateBytes() const {
  std::vector<std::shared_ptr<Instance>> instances;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, instance] : instances_) {
      instances.push_back(instance);
    }
  }
  size_t total = 0;
  for (const auto& instance : instances) {
    absl::MutexLock lock(&instance->mu);
    for (const auto& [name, series] : instance->series) {
      total += sizeof(Series) + series.detector->StateBytes() +
               sizeof(double) * 1024 /* forecaster history bound */ +
               (series.exhaustion ? series.exhaustion->size() * 2 * sizeof(double) : 0);
    }
  }
  return total;
}

}  // namespace shadowfleet

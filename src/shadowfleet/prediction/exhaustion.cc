#include "shadowfleet/prediction/exhaustion.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace shadowfleet {
namespace {

// 1 / Phi^-1(3/4): turns a median absolute deviation into a normal standard deviation.
constexpr double kMadToSigma = 1.4826;
// Asymptotic efficiency of the Theil-Sen slope relative to least squares under normal noise:
// its variance is that of the least-squares slope divided by 3/pi.
constexpr double kTheilSenEfficiency = 3 / 3.14159265358979323846;

double Median(std::vector<double>& values) {
  size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<long>(mid), values.end());
  double upper = values[mid];
  if (values.size() % 2 == 1) {
    return upper;
  }
  double lower = *std::max_element(values.begin(), values.begin() + static_cast<long>(mid));
  return (lower + upper) / 2;
}

}  // namespace

const char* ExhaustionOutlookName(ExhaustionOutlook outlook) {
  switch (outlook) {
    case ExhaustionOutlook::kInsufficientData:
      return "insufficient_data";
    case ExhaustionOutlook::kNotTowardsLimit:
      return "not_towards_limit";
    case ExhaustionOutlook::kTowardsLimit:
      return "towards_limit";
    case ExhaustionOutlook::kExhausted:
      return "exhausted";
  }
  return "unknown";
}

void ExhaustionEstimator::Add(double unix_seconds, double value) {
  if (!std::isfinite(unix_seconds) || !std::isfinite(value)) {
    return;
  }
  samples_.push_back({unix_seconds, value});
  while (samples_.size() > static_cast<size_t>(std::max(options_.window, 2))) {
    samples_.pop_front();
  }
}

ExhaustionEstimate ExhaustionEstimator::Estimate() const {
  ExhaustionEstimate e;
  if (samples_.size() < static_cast<size_t>(std::max(options_.min_samples, 2))) {
    return e;
  }
  // Work in "usage towards the limit" units, so that a falling resource reads like a rising
  // one, and in seconds relative to the newest sample.
  double sign = options_.rising ? 1.0 : -1.0;
  double limit = sign * options_.limit;
  double now = samples_.front().time;
  for (const Sample& s : samples_) {
    now = std::max(now, s.time);
  }

  std::vector<double> slopes;
  slopes.reserve(samples_.size() * (samples_.size() - 1) / 2);
  for (size_t i = 0; i < samples_.size(); ++i) {
    for (size_t j = i + 1; j < samples_.size(); ++j) {
      double dt = samples_[j].time - samples_[i].time;
      if (dt != 0) {
        slopes.push_back(sign * (samples_[j].value - samples_[i].value) / dt);
      }
    }
  }
  if (slopes.empty()) {
    return e;
  }
  double slope = Median(slopes);

  std::vector<double> offsets;
  double mean_t = 0.0;
  for (const Sample& s : samples_) {
    offsets.push_back(sign * s.value - slope * (s.time - now));
    mean_t += s.time - now;
  }
  double n = static_cast<double>(samples_.size());
  mean_t /= n;
  double level = Median(offsets);

  // Residual spread, robustly; then the usual standard errors of a fitted line's slope and of
  // its value at the newest sample.
  std::vector<double> deviations;
  double sxx = 0.0;
  for (const Sample& s : samples_) {
    deviations.push_back(std::abs(sign * s.value - (level + slope * (s.time - now))));
    sxx += (s.time - now - mean_t) * (s.time - now - mean_t);
  }
  double sigma = kMadToSigma * Median(deviations);
  double slope_se = sigma / std::sqrt(sxx * kTheilSenEfficiency);
  double level_se = sigma * std::sqrt(1 / n + mean_t * mean_t / sxx);

  e.level = sign * level;
  e.slope_per_second = sign * slope;
  e.slope_stderr = slope_se;
  double z = options_.confidence_z;
  if (level >= limit) {
    e.outlook = ExhaustionOutlook::kExhausted;
    e.seconds = e.earliest_seconds = e.latest_seconds = 0.0;
    return e;
  }
  if (slope - z * slope_se <= 0) {
    e.outlook = ExhaustionOutlook::kNotTowardsLimit;
    return e;
  }
  e.outlook = ExhaustionOutlook::kTowardsLimit;
  e.seconds = (limit - level) / slope;
  e.earliest_seconds = std::max(0.0, (limit - level - z * level_se) / (slope + z * slope_se));
  e.latest_seconds = (limit - level + z * level_se) / (slope - z * slope_se);
  return e;
}

}  // namespace shadowfleet

// Time to exhaustion of a bounded resource (memory, disk, file descriptors): when a usage
// series will reach its limit if it keeps its recent trend, with an interval for that time.
//
// The trend is a Theil-Sen line (the median of the slopes between all pairs of samples) over a
// bounded window of recent samples, so a few spikes or a garbage-collection drop do not move
// it. The interval comes from the standard errors of the slope and of the current level, both
// estimated from the spread (median absolute deviation) of the residuals around that line.
//
// Example:
//   ExhaustionEstimator disk({.limit = 100.0});   // percent used
//   disk.Add(unix_seconds, used_percent);         // for every sample
//   ExhaustionEstimate e = disk.Estimate();
//   if (e.outlook == ExhaustionOutlook::kTowardsLimit && e.latest_seconds < 86400) { ... }
#pragma once

#include <cstddef>
#include <deque>
#include <limits>

namespace shadowfleet {

struct ExhaustionOptions {
  double limit = 100.0;
  // True when the resource runs out by rising to `limit` (used bytes), false when by falling
  // to it (free bytes).
  bool rising = true;
  int window = 240;            // Most recent samples the trend is fitted on.
  int min_samples = 10;        // Fewer than this: kInsufficientData.
  double confidence_z = 1.96;  // Interval half-width in slope standard errors (95 %).
};

enum class ExhaustionOutlook {
  kInsufficientData,  // Too few samples, or all at one time.
  kNotTowardsLimit,   // The slope is not significantly (at confidence_z) towards the limit.
  kTowardsLimit,      // The limit will be reached; the times below are finite.
  kExhausted,         // The fitted usage is already at or beyond the limit.
};

const char* ExhaustionOutlookName(ExhaustionOutlook outlook);

// Times are seconds after the newest sample: finite for kTowardsLimit, 0 for kExhausted,
// infinite otherwise. The fitted level and slope are filled in whenever there was a fit.
struct ExhaustionEstimate {
  static constexpr double kNever = std::numeric_limits<double>::infinity();

  ExhaustionOutlook outlook = ExhaustionOutlook::kInsufficientData;
  double seconds = kNever;
  double earliest_seconds = kNever;
  double latest_seconds = kNever;
  double level = 0.0;             // Fitted usage at the newest sample.
  double slope_per_second = 0.0;  // Fitted change per second (signed).
  double slope_stderr = 0.0;
};

// Keeps the last `window` samples of one series and estimates its time to exhaustion on
// demand (O(window^2) per Estimate(), about 30k slope pairs for the default window).
//
// Thread-compatible: one instance per series.
class ExhaustionEstimator {
 public:
  explicit ExhaustionEstimator(ExhaustionOptions options = {}) : options_(options) {}

  // Adds a sample. Samples with a NaN or infinite time or value are ignored. Times should
  // increase; a sample older than the newest one is still used for the fit.
  void Add(double unix_seconds, double value);

  ExhaustionEstimate Estimate() const;

  size_t size() const { return samples_.size(); }

 private:
  struct Sample {
    double time;
    double value;
  };

  ExhaustionOptions options_;
  std::deque<Sample> samples_;
};

}  // namespace shadowfleet

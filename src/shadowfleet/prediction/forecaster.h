// One-step-ahead forecasting of a metric series with online additive Holt-Winters: a level, a
// trend and one seasonal offset per phase of a period, each updated by exponential smoothing
// as samples arrive. The period is either configured or chosen from the data seen so far, by
// autocorrelation over candidate periods on a bounded buffer of recent samples.
//
// Example:
//   HoltWintersForecaster forecaster({.candidate_periods = {24, 168}});
//   for (double v : hourly_values) {
//     Forecast f = forecaster.Next();           // What the next sample should be.
//     double z = (v - f.value) / f.scale;       // How surprising it is.
//     forecaster.Observe(v);
//   }
#pragma once

#include <cstdint>
#include <vector>

namespace shadowfleet {

struct ForecasterOptions {
  double level_smoothing = 0.2;     // alpha
  double trend_smoothing = 0.02;    // beta
  double seasonal_smoothing = 0.1;  // gamma
  // Weight of the newest squared residual in the residual variance.
  double residual_smoothing = 0.05;

  // A fixed period in samples, or 0 to choose one from `candidate_periods` once the buffer
  // holds three cycles of the longest candidate (or is full).
  int period = 0;
  std::vector<int> candidate_periods = {24, 48, 96, 144, 168, 288};
  // Samples kept for choosing the period; the longest usable candidate is a third of this.
  int history = 1024;
  // A candidate must reach this autocorrelation (after removing a linear trend) to be used;
  // otherwise the series is treated as non-seasonal.
  double min_autocorrelation = 0.3;
};

// The forecast for the next sample: its expected value and the typical size of a forecast
// error (a smoothed root mean square of past one-step residuals; 0 until one is known).
struct Forecast {
  double value = 0.0;
  double scale = 0.0;
};

// Online additive Holt-Winters for one series. Causal: the forecast for a sample uses only the
// samples before it. State is bounded by `history` and the longest candidate period.
// NaN or infinite samples are skipped (they change nothing).
//
// Thread-compatible: one instance per series.
class HoltWintersForecaster {
 public:
  explicit HoltWintersForecaster(ForecasterOptions options = {});

  // The forecast for the next sample. Before any sample: value 0, scale 0.
  Forecast Next() const;

  // Feeds the next sample; returns the forecast that was made for it.
  Forecast Observe(double value);

  // The period in use: 0 while none is chosen or when the series is not seasonal.
  int period() const { return period_; }
  // True once the choice of period is final (configured, or chosen from the data).
  bool period_decided() const { return period_decided_; }
  int64_t samples() const { return samples_; }

 private:
  void Remember(double value);
  void DecidePeriod();
  void StartSeason(int period);

  ForecasterOptions options_;
  int period_ = 0;
  bool period_decided_ = false;
  int64_t samples_ = 0;
  double level_ = 0.0;
  double trend_ = 0.0;
  double residual_variance_ = 0.0;
  bool has_residual_ = false;
  std::vector<double> season_;   // One offset per phase; phase = sample index mod period.
  std::vector<double> history_;  // Ring buffer of recent samples, until the period is decided.
  int64_t history_next_ = 0;     // Samples written to the ring buffer.
};

// Picks the candidate period (in samples) with the strongest autocorrelation of `series` after
// removing its least-squares line; among candidates within 10 % of the strongest the shortest
// wins, so that multiples of the true period do not. Returns 0 when no candidate with at least
// three cycles in `series` reaches `min_autocorrelation`.
int ChoosePeriod(const std::vector<double>& series, const std::vector<int>& candidates,
                 double min_autocorrelation);

}  // namespace shadowfleet

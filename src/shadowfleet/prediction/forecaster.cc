#include "shadowfleet/prediction/forecaster.h"

#include <algorithm>
#include <cmath>

namespace shadowfleet {
namespace {

// Least-squares line through (i, series[i]).
struct Line {
  double intercept = 0.0;
  double slope = 0.0;
  double At(double i) const { return intercept + slope * i; }
};

Line FitLine(const std::vector<double>& series) {
  double n = static_cast<double>(series.size());
  if (series.size() < 2) {
    return {series.empty() ? 0.0 : series[0], 0.0};
  }
  double mean_i = (n - 1) / 2;
  double mean_x = 0.0;
  for (double x : series) {
    mean_x += x;
  }
  mean_x /= n;
  double sxy = 0.0;
  double sxx = 0.0;
  for (size_t i = 0; i < series.size(); ++i) {
    double di = static_cast<double>(i) - mean_i;
    sxy += di * (series[i] - mean_x);
    sxx += di * di;
  }
  double slope = sxy / sxx;
  return {mean_x - slope * mean_i, slope};
}

// Autocorrelation of `r` (mean zero) at `lag`, each lag averaged over its own pairs so that
// long lags are not penalised for having fewer of them.
double Autocorrelation(const std::vector<double>& r, double variance, size_t lag) {
  double sum = 0.0;
  for (size_t t = 0; t + lag < r.size(); ++t) {
    sum += r[t] * r[t + lag];
  }
  return sum / static_cast<double>(r.size() - lag) / variance;
}

}  // namespace

int ChoosePeriod(const std::vector<double>& series, const std::vector<int>& candidates,
                 double min_autocorrelation) {
  Line line = FitLine(series);
  std::vector<double> residual(series.size());
  double variance = 0.0;
  for (size_t i = 0; i < series.size(); ++i) {
    residual[i] = series[i] - line.At(static_cast<double>(i));
    variance += residual[i] * residual[i];
  }
  variance /= static_cast<double>(std::max<size_t>(series.size(), 1));
  if (!(variance > 0)) {
    return 0;
  }

  std::vector<std::pair<int, double>> usable;  // (period, autocorrelation)
  double best = min_autocorrelation;
  for (int c : candidates) {
    if (c < 2 || static_cast<size_t>(c) * 3 > series.size()) {
      continue;
    }
    double acf = Autocorrelation(residual, variance, static_cast<size_t>(c));
    if (acf >= min_autocorrelation) {
      usable.emplace_back(c, acf);
      best = std::max(best, acf);
    }
  }
  int chosen = 0;
  for (const auto& [period, acf] : usable) {
    if (acf >= 0.9 * best && (chosen == 0 || period < chosen)) {
      chosen = period;
    }
  }
  return chosen;
}

HoltWintersForecaster::HoltWintersForecaster(ForecasterOptions options)
    : options_(std::move(options)) {
  int capacity = options_.history;
  if (options_.period > 0) {
    capacity = std::max(capacity, 2 * options_.period);
  }
  history_.assign(static_cast<size_t>(std::max(capacity, 2)), 0.0);
}

Forecast HoltWintersForecaster::Next() const {
  if (samples_ == 0) {
    return {};
  }
  double seasonal = period_ > 0 ? season_[static_cast<size_t>(samples_ % period_)] : 0.0;
  return {level_ + trend_ + seasonal, has_residual_ ? std::sqrt(residual_variance_) : 0.0};
}

Forecast HoltWintersForecaster::Observe(double value) {
  Forecast forecast = Next();
  if (!std::isfinite(value)) {
    return forecast;
  }
  if (samples_ == 0) {
    level_ = value;
  } else {
    double residual = value - forecast.value;
    double w = has_residual_ ? options_.residual_smoothing : 1.0;
    residual_variance_ = (1 - w) * residual_variance_ + w * residual * residual;
    has_residual_ = true;

    double alpha = options_.level_smoothing;
    double beta = options_.trend_smoothing;
    double gamma = options_.seasonal_smoothing;
    double* seasonal = period_ > 0 ? &season_[static_cast<size_t>(samples_ % period_)] : nullptr;
    double offset = seasonal != nullptr ? *seasonal : 0.0;
    double level = alpha * (value - offset) + (1 - alpha) * (level_ + trend_);
    trend_ = beta * (level - level_) + (1 - beta) * trend_;
    if (seasonal != nullptr) {
      *seasonal = gamma * (value - level) + (1 - gamma) * offset;
    }
    level_ = level;
  }
  ++samples_;
  if (!period_decided_) {
    Remember(value);
  }
  return forecast;
}

void HoltWintersForecaster::Remember(double value) {
  history_[static_cast<size_t>(history_next_ % static_cast<int64_t>(history_.size()))] = value;
  ++history_next_;

  int64_t needed = static_cast<int64_t>(history_.size());
  if (options_.period > 0) {
    needed = std::min<int64_t>(needed, 2 * options_.period);
  } else if (!options_.candidate_periods.empty()) {
    int longest =
        *std::max_element(options_.candidate_periods.begin(), options_.candidate_periods.end());
    needed = std::min<int64_t>(needed, 3 * static_cast<int64_t>(longest));
  }
  if (history_next_ >= needed) {
    DecidePeriod();
  }
}

void HoltWintersForecaster::DecidePeriod() {
  period_decided_ = true;
  std::vector<double> ordered;
  size_t kept = static_cast<size_t>(std::min<int64_t>(history_next_, history_.size()));
  ordered.reserve(kept);
  for (int64_t i = history_next_ - static_cast<int64_t>(kept); i < history_next_; ++i) {
    ordered.push_back(history_[static_cast<size_t>(i % static_cast<int64_t>(history_.size()))]);
  }
  history_ = std::move(ordered);

  int period = options_.period > 0 ? options_.period
                                   : ChoosePeriod(history_, options_.candidate_periods,
                                                  options_.min_autocorrelation);
  if (period > 0 && history_.size() >= 2 * static_cast<size_t>(period)) {
    StartSeason(period);
  }
  history_.clear();
  history_.shrink_to_fit();
}

// Starts the seasonal model from the buffered samples: whole cycles, ending at the newest
// sample, are detrended by their least-squares line; each phase's offset is the mean residual
// at that phase. Level and trend restart from the line, the residual scale from what the
// seasonal model leaves unexplained.
void HoltWintersForecaster::StartSeason(int period) {
  size_t cycles = history_.size() / static_cast<size_t>(period);
  std::vector<double> recent(history_.end() - static_cast<long>(cycles * period), history_.end());
  Line line = FitLine(recent);
  int64_t first_index = samples_ - static_cast<int64_t>(recent.size());

  season_.assign(static_cast<size_t>(period), 0.0);
  for (size_t i = 0; i < recent.size(); ++i) {
    size_t phase = static_cast<size_t>((first_index + static_cast<int64_t>(i)) % period);
    season_[phase] += (recent[i] - line.At(static_cast<double>(i))) / static_cast<double>(cycles);
  }
  double mean = 0.0;
  for (double s : season_) {
    mean += s;
  }
  mean /= period;
  for (double& s : season_) {
    s -= mean;
  }

  double squared = 0.0;
  for (size_t i = 0; i < recent.size(); ++i) {
    size_t phase = static_cast<size_t>((first_index + static_cast<int64_t>(i)) % period);
    double r = recent[i] - line.At(static_cast<double>(i)) - season_[phase];
    squared += r * r;
  }
  period_ = period;
  level_ = line.At(static_cast<double>(recent.size() - 1));
  trend_ = line.slope;
  residual_variance_ = squared / static_cast<double>(recent.size());
  has_residual_ = true;
}

}  // namespace shadowfleet

// HoltWintersForecaster and ChoosePeriod on synthetic series with known answers: the period of
// a seasonal series is found and its forecasts come close to the noise floor, a line is
// followed exactly, noise is not mistaken for seasonality, and forecasts are causal.
#include "shadowfleet/prediction/forecaster.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

namespace shadowfleet {
namespace {

// Hourly samples: a daily sine of amplitude 10, a slow trend, Gaussian noise of sd `noise`.
std::vector<double> DailySeries(int n, double noise, uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> gauss(0.0, noise);
  std::vector<double> series;
  for (int i = 0; i < n; ++i) {
    series.push_back(100 + 0.01 * i + 10 * std::sin(2 * std::numbers::pi * i / 24) + gauss(rng));
  }
  return series;
}

TEST(ChoosePeriod, FindsTheDailyPeriodAmongCandidates) {
  EXPECT_EQ(ChoosePeriod(DailySeries(600, 1.0), {12, 24, 48, 168}, 0.3), 24);
}

TEST(ChoosePeriod, PrefersThePeriodOverItsMultiples) {
  EXPECT_EQ(ChoosePeriod(DailySeries(600, 0.1), {48, 72, 24}, 0.3), 24);
}

TEST(ChoosePeriod, ReturnsZeroForNoiseAndForTooShortSeries) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> gauss(0.0, 1.0);
  std::vector<double> noise;
  for (int i = 0; i < 1000; ++i) {
    noise.push_back(gauss(rng));
  }
  EXPECT_EQ(ChoosePeriod(noise, {12, 24, 48}, 0.3), 0);
  EXPECT_EQ(ChoosePeriod(DailySeries(60, 0.1), {24}, 0.3), 0);  // Fewer than three cycles.
  EXPECT_EQ(ChoosePeriod(std::vector<double>(100, 5.0), {24}, 0.3), 0);
}

TEST(HoltWintersForecaster, ForecastsASeasonalSeriesNearTheNoiseFloor) {
  HoltWintersForecaster forecaster({.candidate_periods = {12, 24, 48, 168}, .history = 1024});
  std::vector<double> series = DailySeries(3000, 0.5);
  double abs_error = 0.0;
  int counted = 0;
  for (size_t i = 0; i < series.size(); ++i) {
    Forecast f = forecaster.Observe(series[i]);
    if (i >= 2000) {
      abs_error += std::abs(series[i] - f.value);
      ++counted;
    }
  }
  EXPECT_EQ(forecaster.period(), 24);
  // Noise sd 0.5 gives a mean absolute error of 0.4 at best; the seasonal swing is +-10.
  EXPECT_LT(abs_error / counted, 0.7);
  // The residual scale tracks the noise.
  EXPECT_GT(forecaster.Next().scale, 0.3);
  EXPECT_LT(forecaster.Next().scale, 1.2);
}

TEST(HoltWintersForecaster, WithAConfiguredPeriodForecastsAsWell) {
  HoltWintersForecaster forecaster({.period = 24});
  std::vector<double> series = DailySeries(1500, 0.5, 9);
  double abs_error = 0.0;
  for (size_t i = 0; i < series.size(); ++i) {
    Forecast f = forecaster.Observe(series[i]);
    if (i >= 1000) {
      abs_error += std::abs(series[i] - f.value);
    }
  }
  EXPECT_TRUE(forecaster.period_decided());
  EXPECT_EQ(forecaster.period(), 24);
  EXPECT_LT(abs_error / 500, 0.7);
}

TEST(HoltWintersForecaster, FollowsALineExactly) {
  HoltWintersForecaster forecaster({.candidate_periods = {24}, .history = 200});
  for (int i = 0; i < 2000; ++i) {
    forecaster.Observe(5 + 0.25 * i);
  }
  EXPECT_EQ(forecaster.period(), 0);
  EXPECT_NEAR(forecaster.Next().value, 5 + 0.25 * 2000, 1e-6);
  EXPECT_NEAR(forecaster.Next().scale, 0.0, 1e-6);
}

TEST(HoltWintersForecaster, TreatsNoiseAsNonSeasonal) {
  HoltWintersForecaster forecaster({.candidate_periods = {12, 24}, .history = 300});
  std::mt19937_64 rng(5);
  std::normal_distribution<double> gauss(20.0, 2.0);
  for (int i = 0; i < 1000; ++i) {
    forecaster.Observe(gauss(rng));
  }
  EXPECT_TRUE(forecaster.period_decided());
  EXPECT_EQ(forecaster.period(), 0);
  EXPECT_NEAR(forecaster.Next().value, 20.0, 1.5);
  EXPECT_NEAR(forecaster.Next().scale, 2.0, 1.0);
}

TEST(HoltWintersForecaster, IsCausalAndSkipsMissingSamples) {
  std::vector<double> series = DailySeries(800, 0.5);
  HoltWintersForecaster a({.candidate_periods = {24}, .history = 200});
  HoltWintersForecaster b({.candidate_periods = {24}, .history = 200});
  for (size_t i = 0; i < series.size(); ++i) {
    Forecast before = a.Next();
    Forecast made = a.Observe(series[i]);
    EXPECT_EQ(before.value, made.value);
    b.Observe(series[i]);
    b.Observe(std::nan(""));
  }
  EXPECT_EQ(a.Next().value, b.Next().value);
  EXPECT_EQ(a.samples(), b.samples());
}

TEST(HoltWintersForecaster, ForecastsNothingBeforeTheFirstSample) {
  HoltWintersForecaster forecaster;
  EXPECT_EQ(forecaster.Next().value, 0.0);
  EXPECT_EQ(forecaster.Next().scale, 0.0);
  forecaster.Observe(42.0);
  EXPECT_EQ(forecaster.Next().value, 42.0);
}

}  // namespace
}  // namespace shadowfleet

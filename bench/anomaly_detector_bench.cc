// Cost of per-series prediction state: how many samples per second one core scores with the
// anomaly detector, for one series (state hot in cache) and for many series updated in turn
// (state cold, as when a daemon scores a fleet's metrics), and how many bytes each series
// holds. Also the Holt-Winters forecaster's update and a time-to-exhaustion estimate.
//
//   build/default/bench/shadowfleet_bench_anomaly
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "shadowfleet/prediction/anomaly_detector.h"
#include "shadowfleet/prediction/exhaustion.h"
#include "shadowfleet/prediction/forecaster.h"

namespace shadowfleet {
namespace {

// Five-minute samples of a daily pattern with noise and a spike now and then.
struct Samples {
  std::vector<double> values;
  std::vector<double> times;
};

const Samples& MetricSamples() {
  static const Samples* samples = [] {
    auto* s = new Samples;
    std::mt19937_64 rng(42);
    std::normal_distribution<double> noise(0.0, 2.0);
    std::uniform_int_distribution<int> spike(0, 999);
    for (int i = 0; i < (1 << 20); ++i) {
      double daily = 20.0 * std::abs((i % 288) - 144) / 144.0;
      s->values.push_back(50 + daily + noise(rng) + (spike(rng) == 0 ? 40 : 0));
      s->times.push_back(1.6e9 + 300.0 * i);
    }
    return s;
  }();
  return *samples;
}

void BM_DetectorOneSeries(benchmark::State& state) {
  const Samples& s = MetricSamples();
  size_t n = s.values.size();
  auto detector = std::make_unique<NovelBinDetector>();
  size_t i = 0;
  double sum = 0.0;
  for (auto _ : state) {
    sum += detector->Update(s.values[i], s.times[i]);
    if (++i == n) {
      i = 0;
      detector = std::make_unique<NovelBinDetector>();
    }
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
  state.counters["state_bytes"] = static_cast<double>(detector->StateBytes());
}
BENCHMARK(BM_DetectorOneSeries);

// Many series, each past its warm-up, updated round-robin: every update touches a different
// detector's state, as a fleet-wide scoring pass would.
void BM_DetectorManySeries(benchmark::State& state) {
  const Samples& s = MetricSamples();
  size_t series = static_cast<size_t>(state.range(0));
  std::vector<NovelBinDetector> detectors(series);
  size_t per_series = 400;  // Past the 250-sample warm-up.
  for (size_t d = 0; d < series; ++d) {
    for (size_t i = 0; i < per_series; ++i) {
      detectors[d].Update(s.values[(d * 7919 + i) % s.values.size()], s.times[i]);
    }
  }
  size_t d = 0;
  size_t i = per_series;
  double sum = 0.0;
  for (auto _ : state) {
    sum += detectors[d].Update(s.values[(d * 7919 + i) % s.values.size()], s.times[i]);
    if (++d == series) {
      d = 0;
      i = i + 1 == s.values.size() ? per_series : i + 1;
    }
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
  state.counters["state_bytes"] = static_cast<double>(detectors[0].StateBytes());
  state.counters["fleet_state_MB"] =
      static_cast<double>(detectors[0].StateBytes() * series) / (1024.0 * 1024.0);
}
BENCHMARK(BM_DetectorManySeries)->Arg(1000)->Arg(100000);

// State of one series before warm-up (with its warm-up buffer) and after it.
void BM_DetectorStateBytes(benchmark::State& state) {
  const Samples& s = MetricSamples();
  for (auto _ : state) {
    NovelBinDetector detector;
    state.counters["during_warmup_bytes"] = static_cast<double>(detector.StateBytes());
    for (int i = 0; i < NovelBinDetector::kWarmupSamples; ++i) {
      detector.Update(s.values[static_cast<size_t>(i)], s.times[static_cast<size_t>(i)]);
    }
    state.counters["after_warmup_bytes"] = static_cast<double>(detector.StateBytes());
  }
}
BENCHMARK(BM_DetectorStateBytes);

void BM_ForecasterObserve(benchmark::State& state) {
  const Samples& s = MetricSamples();
  HoltWintersForecaster forecaster({.candidate_periods = {288}, .history = 1024});
  size_t i = 0;
  double sum = 0.0;
  for (auto _ : state) {
    sum += forecaster.Observe(s.values[i]).value;
    i = i + 1 == s.values.size() ? 0 : i + 1;
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ForecasterObserve);

void BM_ExhaustionEstimate(benchmark::State& state) {
  ExhaustionEstimator disk({.limit = 100.0, .window = static_cast<int>(state.range(0))});
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0.0, 0.5);
  for (int i = 0; i < state.range(0); ++i) {
    disk.Add(60.0 * i, 40 + 0.001 * i + noise(rng));
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(disk.Estimate());
  }
}
BENCHMARK(BM_ExhaustionEstimate)->Arg(240);

}  // namespace
}  // namespace shadowfleet

BENCHMARK_MAIN();

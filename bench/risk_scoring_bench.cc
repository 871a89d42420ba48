// Cost of scoring one instance's risk: signals to feature vector, the prior, and the learnt
// model (gradient-boosted trees with calibration and SHAP contributions for the top factors),
// one instance at a time as the risk engine scores, and a thousand at once as `score` does.
// The model has the default training settings (200 trees of depth 3) over the default metrics.
//
//   build/default/bench/shadowfleet_bench_risk
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <vector>

#include "shadowfleet/prediction/gbm_risk_model.h"
#include "shadowfleet/prediction/prior_risk_model.h"
#include "shadowfleet/prediction/risk_features.h"
#include "shadowfleet/prediction/risk_training.h"

namespace shadowfleet {
namespace {

// Signals of an instance with every default metric, some heading for their limit.
InstanceSignals RandomSignals(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  InstanceSignals s;
  s.instance_id = "web-1";
  s.age_hours = 1000 * u(rng);
  for (const std::string& metric : RiskFeatures::DefaultMetrics()) {
    FeatureSignal f;
    f.value = u(rng);
    f.anomaly = u(rng) < 0.05 ? u(rng) : 0;
    f.anomaly_recent_max = u(rng) < 0.1 ? u(rng) : 0;
    f.forecast_z = 3 * u(rng);
    f.trend_per_hour = 0.1 * (u(rng) - 0.5);
    f.exhaustion_seconds = u(rng) < 0.2 ? 7200 * u(rng) : f.exhaustion_seconds;
    s.features[metric] = f;
  }
  return s;
}

const GbmRiskModel& Model() {
  static const GbmRiskModel* model = [] {
    RiskFeatures features;
    std::mt19937_64 rng(1);
    LabelledSet set;
    set.x = DenseMatrix(features.size());
    PriorRiskModel prior;
    std::uniform_real_distribution<double> u(0, 1);
    for (int i = 0; i < 5000; ++i) {
      InstanceSignals s = RandomSignals(rng);
      set.x.AddRow(features.Extract(s));
      set.y.push_back(u(rng) < prior.Assess(s).probability ? 1.0f : 0.0f);
      set.at.push_back(absl::FromUnixSeconds(i));
      set.instance.push_back("i" + std::to_string(i % 10));
    }
    absl::StatusOr<TrainedRiskClassifier> trained = TrainRiskClassifier(set, {});
    if (!trained.ok()) {
      std::abort();
    }
    return new GbmRiskModel(std::move(trained->gbm), std::move(trained->calibration), features,
                            absl::Minutes(30), "bench");
  }();
  return *model;
}

void BM_ExtractFeatures(benchmark::State& state) {
  std::mt19937_64 rng(2);
  InstanceSignals s = RandomSignals(rng);
  RiskFeatures features;
  for (auto _ : state) {
    benchmark::DoNotOptimize(features.Extract(s));
  }
}
BENCHMARK(BM_ExtractFeatures);

void BM_PriorAssess(benchmark::State& state) {
  std::mt19937_64 rng(3);
  InstanceSignals s = RandomSignals(rng);
  PriorRiskModel prior;
  for (auto _ : state) {
    benchmark::DoNotOptimize(prior.Assess(s));
  }
}
BENCHMARK(BM_PriorAssess);

// One instance: features, probability and contributions, top factors in words.
void BM_GbmAssess(benchmark::State& state) {
  const GbmRiskModel& model = Model();
  std::mt19937_64 rng(4);
  InstanceSignals s = RandomSignals(rng);
  for (auto _ : state) {
    benchmark::DoNotOptimize(model.Assess(s));
  }
}
BENCHMARK(BM_GbmAssess)->Unit(benchmark::kMicrosecond);

// The calibrated probability alone, without contributions: what the explanation costs.
void BM_GbmProbabilityOnly(benchmark::State& state) {
  const GbmRiskModel& model = Model();
  std::mt19937_64 rng(6);
  DenseMatrix x(model.features().size());
  x.AddRow(model.features().Extract(RandomSignals(rng)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(model.Probabilities(x));
  }
}
BENCHMARK(BM_GbmProbabilityOnly)->Unit(benchmark::kMicrosecond);

// A thousand instances in one call; the rate counter is instances per second.
void BM_GbmAssessRows(benchmark::State& state) {
  const GbmRiskModel& model = Model();
  std::mt19937_64 rng(5);
  DenseMatrix x(model.features().size());
  for (int i = 0; i < 1000; ++i) {
    x.AddRow(model.features().Extract(RandomSignals(rng)));
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(model.AssessRows(x));
  }
  state.counters["instances/s"] =
      benchmark::Counter(1000.0 * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GbmAssessRows)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace shadowfleet

BENCHMARK_MAIN();

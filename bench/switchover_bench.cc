// How many concurrent switchovers one daemon drives: a simulated fleet (sim provider, none
// router, synthetic request counters) where every instance is switching over at once, and the
// time of one controller pass on one core — with every switchover sampling its replicas, and
// with every switchover taking a step (judging and writing its new state) in the same pass.
//
//   build/default/bench/shadowfleet_bench_switchover [--instances=N]
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/logging.h"
#include "shadowfleet/fleet/live_manager.h"
#include "shadowfleet/fleet/spec_applier.h"
#include "shadowfleet/provider/sim_provider.h"
#include "shadowfleet/router/none_router.h"
#include "shadowfleet/shadow/shadow_manager.h"
#include "shadowfleet/store/sqlite_store.h"
#include "shadowfleet/switchover/switchover_controller.h"

namespace shadowfleet {
namespace {

int g_instances = 10'000;

std::string Fleet(int replicas) {
  return absl::StrCat(R"(apiVersion: shadowfleet.dev/v1alpha1
kind: Fleet
metadata: {name: sim}
spec:
  groups:
    - name: sim
      replicas: )",
                      replicas, R"(
      provider: {name: sim, settings: {buildDelay: 0s, applyDelay: 0s}}
      healthCheck: {interval: 5s}
      switchover:
        initialWeight: 10
        stepWeight: 30
        stepInterval: 10s
        sampleInterval: 1s
        minSamples: 5
        bakeTime: 10s
        progressDeadline: 1h
        maxConcurrent: 1000000
        minHealthyShare: 0
)");
}

struct World {
  FakeClock clock;
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<FleetState> state;
  std::unique_ptr<Ledger> ledger;
  std::unique_ptr<SimCloud> cloud;
  std::unique_ptr<ProviderSet> providers;
  std::unique_ptr<LiveManager> live;
  std::unique_ptr<ShadowManager> shadow;
  std::shared_ptr<Router> router = std::make_shared<NoneRouter>();
  std::unique_ptr<SimReplicaMetrics> metrics;
  std::unique_ptr<SwitchoverController> controller;
  double started_seconds = 0;

  World() {
    SetLogLevel("warn");
    store = *SqliteStore::Open({":memory:", false});
    state = std::make_unique<FleetState>(store.get());
    LedgerOptions ledger_options;
    ledger_options.record_events = false;
    ledger = std::make_unique<Ledger>(store.get(), &clock, ledger_options);
    cloud = std::make_unique<SimCloud>(&clock);
    ProviderEnvironment environment;
    environment.clock = &clock;
    environment.sim_cloud = cloud.get();
    providers = std::make_unique<ProviderSet>(environment);
    LiveManagerOptions live_options;
    live_options.workers = 1;
    live_options.observe_interval = absl::Hours(1000);
    live = std::make_unique<LiveManager>(state.get(), ledger.get(), providers.get(), &clock,
                                         nullptr, live_options);
    ShadowManagerOptions shadow_options;
    shadow_options.workers = 1;
    shadow = std::make_unique<ShadowManager>(state.get(), ledger.get(), providers.get(), &clock,
                                             nullptr, shadow_options);
    metrics = std::make_unique<SimReplicaMetrics>(cloud.get());
    controller = std::make_unique<SwitchoverController>(
        state.get(), providers.get(),
        [this](const GroupSpec&) -> absl::StatusOr<std::shared_ptr<Router>> { return router; },
        [this](const GroupSpec&) -> ReplicaMetricsSource* { return metrics.get(); }, &clock,
        nullptr, SwitchoverControllerOptions{1});
    (void)ApplyFleetSpecs(*state, clock, Fleet(g_instances), "bench", "bench");
    for (int i = 0; i < 8; ++i) {
      (void)state->Sync();
      live->ReconcileAll();
      (void)state->Sync();
      shadow->ReconcileAll();
      clock.Advance(absl::Seconds(1));
    }
    // Every instance starts switching over; the first pass admits and prepares them all.
    absl::Time start = absl::Now();
    for (const std::string& id : state->InstanceIds()) {
      (void)controller->Start({id, SwitchoverTrigger::kFleetRefresh, "bench", "refresh"});
    }
    for (int i = 0; i < 3; ++i) {
      clock.Advance(absl::Milliseconds(500));
      controller->ReconcileAll();
    }
    started_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  }

  int Stepping() {
    int n = 0;
    for (const SwitchoverRecord& sw : controller->List(true)) {
      n += sw.phase == SwitchoverPhase::kStepping;
    }
    return n;
  }
};

World& TheWorld() {
  static auto* world = new World();
  return *world;
}

// Every switchover samples both its replicas; none is due to be judged.
void Sampling(benchmark::State& bench) {
  World& w = TheWorld();
  SwitchoverPassStats stats;
  for (auto _ : bench) {
    w.clock.Advance(absl::Seconds(1));
    stats = w.controller->ReconcileAll();
  }
  bench.counters["active"] = stats.active;
  bench.counters["stepping"] = w.Stepping();
  bench.counters["transitions"] = stats.transitions;
  bench.counters["start_s"] = w.started_seconds;
  bench.counters["us_per_switchover"] =
      benchmark::Counter(static_cast<double>(stats.active) * bench.iterations(),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Every switchover's step ends in the same pass: judged, written, weights moved.
void Stepping(benchmark::State& bench) {
  World& w = TheWorld();
  SwitchoverPassStats stats;
  for (auto _ : bench) {
    bench.PauseTiming();
    // Sample once a second up to the end of the current step (they all started together),
    // so that the measured pass judges every switchover.
    std::vector<SwitchoverRecord> active = w.controller->List(true);
    absl::Time due =
        active.empty() ? w.clock.Now() : active.front().step_started_at + absl::Seconds(10);
    while (w.clock.Now() + absl::Seconds(1) < due) {
      w.clock.Advance(absl::Seconds(1));
      w.controller->ReconcileAll();
    }
    w.clock.SetTime(due);
    bench.ResumeTiming();
    stats = w.controller->ReconcileAll();
  }
  bench.counters["active"] = stats.active;
  bench.counters["transitions"] = stats.transitions;
  bench.counters["us_per_decision"] =
      benchmark::Counter(static_cast<double>(std::max(1, stats.transitions)) * bench.iterations(),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

}  // namespace
}  // namespace shadowfleet

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--instances=", 12) == 0) {
      shadowfleet::g_instances = std::atoi(argv[i] + 12);
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RegisterBenchmark("SwitchoverPass/Sampling", shadowfleet::Sampling)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(5);
  benchmark::RegisterBenchmark("SwitchoverPass/AllStepping", shadowfleet::Stepping)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(2);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

// One reconcile pass of the Shadow Fleet Manager (and of the live manager) over a simulated
// fleet of 100,000 instances, on one core (one worker thread), with the real SQLite store and
// the sim provider on a fake clock. The fleet is built once through the real reconcilers;
// each benchmark iteration is then one full pass.
//
//   build/default/bench/shadowfleet_bench_reconcile [--instances=N]
//
// Cases:
//   SteadyState     every shadow ready and due for a health check: the common pass.
//   OnePercentNew   1 % of instances got a new live version since the last pass: those
//                   shadows start applying it (a store write each).
//   LivePass        the live manager's pass over the same fleet.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/logging.h"
#include "shadowfleet/fleet/live_manager.h"
#include "shadowfleet/fleet/spec_applier.h"
#include "shadowfleet/provider/sim_provider.h"
#include "shadowfleet/shadow/readiness.h"
#include "shadowfleet/shadow/shadow_manager.h"
#include "shadowfleet/store/sqlite_store.h"

namespace shadowfleet {
namespace {

int g_instances = 100'000;

std::string SimFleet(int replicas) {
  return absl::StrCat(R"(apiVersion: shadowfleet.dev/v1alpha1
kind: Fleet
metadata: {name: sim}
spec:
  groups:
    - name: sim
      replicas: )",
                      replicas, R"(
      instanceType: sim.large
      os: {name: debian, version: "12.8"}
      software: [{name: openssl, version: 3.0.15}, {name: nginx, version: 1.22.1}]
      configuration: {workers: 4, message: hello}
      provider:
        name: sim
        settings: {buildDelay: 0s, applyDelay: 0s}
      healthCheck: {interval: 5s}
)");
}

// The fleet, built once and shared by every benchmark.
struct SimFleetWorld {
  FakeClock clock;
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<FleetState> state;
  std::unique_ptr<Ledger> ledger;
  std::unique_ptr<SimCloud> cloud;
  std::unique_ptr<ProviderSet> providers;
  std::unique_ptr<LiveManager> live;
  std::unique_ptr<ShadowManager> shadow;
  double build_seconds = 0;

  SimFleetWorld() {
    SetLogLevel("warn");
    absl::Time start = absl::Now();
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
    (void)ApplyFleetSpecs(*state, clock, SimFleet(g_instances), "bench", "bench");
    for (int i = 0; i < 12; ++i) {
      (void)state->Sync();
      live->ReconcileAll();
      (void)state->Sync();
      shadow->ReconcileAll();
      clock.Advance(absl::Seconds(1));
    }
    (void)state->Sync();
    build_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  }

  int ReadyShadows() {
    return ComputeFleetReadiness(*state, clock.Now(), nullptr).fleet.ready_shadows;
  }
};

SimFleetWorld& World() {
  static auto* world = new SimFleetWorld();
  return *world;
}

void SteadyState(benchmark::State& bench) {
  SimFleetWorld& w = World();
  ShadowPassStats stats;
  for (auto _ : bench) {
    // Every shadow's health check falls due, the most work a steady pass does.
    w.clock.Advance(absl::Seconds(6));
    (void)w.state->Sync();
    stats = w.shadow->ReconcileAll();
  }
  bench.counters["instances"] = stats.instances;
  bench.counters["writes"] = stats.created + stats.applied + stats.replaced;
  bench.counters["ready_shadows"] = w.ReadyShadows();
  bench.counters["fleet_build_s"] = w.build_seconds;
  bench.counters["us_per_instance"] =
      benchmark::Counter(static_cast<double>(stats.instances) * bench.iterations(),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void OnePercentNew(benchmark::State& bench) {
  SimFleetWorld& w = World();
  std::vector<std::string> ids = w.state->InstanceIds();
  int round = 0;
  ShadowPassStats stats;
  for (auto _ : bench) {
    bench.PauseTiming();
    // 1 % of the fleet gets a new version on live, as after a rolling patch.
    for (size_t i = round % 100; i < ids.size(); i += 100) {
      nlohmann::json patch = {{{"op", "add"}, {"path", "/config/round"}, {"value", round}}};
      (void)w.ledger->RecordPatch(ids[i], patch, {"bench", "patch", ChangeSource::kRecorded});
    }
    (void)w.state->Sync();
    w.live->ReconcileAll();  // Pushes the versions to live.
    (void)w.state->Sync();
    w.clock.Advance(absl::Seconds(1));
    bench.ResumeTiming();
    stats = w.shadow->ReconcileAll();
    ++round;
  }
  bench.counters["instances"] = stats.instances;
  bench.counters["applied"] = stats.applied;
}

void LivePass(benchmark::State& bench) {
  SimFleetWorld& w = World();
  LivePassStats stats;
  for (auto _ : bench) {
    w.clock.Advance(absl::Seconds(6));
    (void)w.state->Sync();
    stats = w.live->ReconcileAll();
  }
  bench.counters["instances"] = stats.instances;
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
  benchmark::RegisterBenchmark("ShadowPass/SteadyState", shadowfleet::SteadyState)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(5);
  benchmark::RegisterBenchmark("ShadowPass/OnePercentNew", shadowfleet::OnePercentNew)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(5);
  benchmark::RegisterBenchmark("LivePass/SteadyState", shadowfleet::LivePass)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(5);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

// The telemetry pipeline on one core: exposition text as node_exporter and an HTTP server
// write it, parsed, appended to each series' compressed history, turned into the engine's
// features, fed through every feature's anomaly detector, forecaster and time-to-exhaustion
// estimator, and each instance's risk score brought up to date — the whole path from a
// scrape to an updated risk score.
//
//   build/default/bench/shadowfleet_bench_telemetry [--instances=N] [--samples=M]
//       [--scrapes=DIR]
//
// One iteration is one scrape round: every instance ingests one batch of about M samples (a
// typical node_exporter scrape is several hundred), then the risk engine scores every
// instance. The store is SQLite in memory; the fleet is simulated, its live replicas built by
// the real live manager. Cases:
//   Ingest          parse + history + features only (no prediction engine attached).
//   IngestAndScore  the whole path to an updated risk score.
//   RealScrapes     the whole path, on scrapes of a real node_exporter saved by
//                   bench/capture-scrapes (files scrape-<unix ms>.prom, taken at that time);
//                   only with --scrapes. Every instance replays the same scrapes.
// Counters: samples_per_s (per core: one thread does everything), bytes_per_sample of the
// compressed raw history, bytes_per_series of history and model state together.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "shadowfleet/common/files.h"
#include "shadowfleet/common/logging.h"
#include "shadowfleet/fleet/live_manager.h"
#include "shadowfleet/fleet/spec_applier.h"
#include "shadowfleet/ledger/ledger.h"
#include "shadowfleet/prediction/model_registry.h"
#include "shadowfleet/prediction/risk_engine.h"
#include "shadowfleet/prediction/signal_tracker.h"
#include "shadowfleet/provider/sim_provider.h"
#include "shadowfleet/store/sqlite_store.h"
#include "shadowfleet/telemetry/exposition_parser.h"
#include "shadowfleet/telemetry/telemetry_engine.h"

namespace shadowfleet {
namespace {

int g_instances = 200;
int g_samples = 400;
std::string g_scrapes;        // Directory of saved scrapes, for RealScrapes.
constexpr int kRounds = 360;  // Half an hour of 5 s scrapes.
constexpr int64_t kScrapeMs = 5000;

std::string FleetYaml(int replicas) {
  return absl::StrCat(R"(apiVersion: shadowfleet.dev/v1alpha1
kind: Fleet
metadata: {name: bench}
spec:
  groups:
    - name: web
      replicas: )",
                      replicas, R"(
      os: {name: debian, version: "12.8"}
      software: [{name: openssl, version: 3.0.15}]
      provider:
        name: sim
        settings: {buildDelay: 0s, applyDelay: 0s}
      healthCheck: {interval: 5s}
)");
}

// One scrape's text for round `r`: CPU, memory, filesystem, disk, network and HTTP metrics in
// node_exporter's and the HTTP server's names, padded with runtime gauges (as the Go and
// process collectors add) up to about `samples` samples. Counters advance every round; gauges
// wander; memory use creeps up slowly, as a leak would.
std::string ScrapeText(int r, int samples, std::mt19937_64& rng) {
  std::normal_distribution<double> noise(0, 1);
  std::string text;
  int written = 0;
  const double t = r * 5.0;
  text += "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n";
  text += "# TYPE node_cpu_seconds_total counter\n";
  static const char* kModes[] = {"idle",    "iowait", "irq",    "nice",
                                 "softirq", "steal",  "system", "user"};
  for (int cpu = 0; cpu < 4; ++cpu) {
    for (const char* mode : kModes) {
      double share = std::strcmp(mode, "idle") == 0 ? 0.7 : 0.04;
      absl::StrAppendFormat(&text, "node_cpu_seconds_total{cpu=\"%d\",mode=\"%s\"} %.2f\n", cpu,
                            mode, 1e5 + t * share + 0.01 * std::abs(noise(rng)));
      ++written;
    }
  }
  text += "# TYPE node_memory_MemAvailable_bytes gauge\n";
  absl::StrAppendFormat(&text, "node_memory_MemAvailable_bytes %.0f\n",
                        6e9 - 1e5 * r + 5e6 * noise(rng));
  text += "# TYPE node_memory_MemTotal_bytes gauge\nnode_memory_MemTotal_bytes 8.3e+09\n";
  written += 2;
  static const char* kMounts[] = {"/", "/boot", "/var"};
  text += "# TYPE node_filesystem_avail_bytes gauge\n";
  for (const char* m : kMounts) {
    absl::StrAppendFormat(&text,
                          "node_filesystem_avail_bytes{device=\"/dev/sda1\",fstype=\"ext4\","
                          "mountpoint=\"%s\"} %.0f\n",
                          m, 5e10 - 1e4 * r);
    absl::StrAppendFormat(&text,
                          "node_filesystem_size_bytes{device=\"/dev/sda1\",fstype=\"ext4\","
                          "mountpoint=\"%s\"} 1e+11\n",
                          m);
    written += 2;
  }
  text += "# TYPE node_disk_io_time_seconds_total counter\n";
  for (const char* d : {"sda", "sdb"}) {
    absl::StrAppendFormat(&text, "node_disk_io_time_seconds_total{device=\"%s\"} %.3f\n", d,
                          500 + t * 0.1 + 0.001 * std::abs(noise(rng)));
    absl::StrAppendFormat(&text, "node_disk_read_bytes_total{device=\"%s\"} %.0f\n", d,
                          1e9 + t * 1e5);
    absl::StrAppendFormat(&text, "node_disk_written_bytes_total{device=\"%s\"} %.0f\n", d,
                          2e9 + t * 3e5);
    written += 3;
  }
  for (const char* nic : {"eth0", "lo"}) {
    absl::StrAppendFormat(&text, "node_network_receive_bytes_total{device=\"%s\"} %.0f\n", nic,
                          4e9 + t * 2e6);
    absl::StrAppendFormat(&text, "node_network_transmit_bytes_total{device=\"%s\"} %.0f\n", nic,
                          3e9 + t * 1e6);
    written += 2;
  }
  const double requests = 1e6 + t * 200;
  text += "# TYPE http_requests_total counter\n";
  absl::StrAppendFormat(&text, "http_requests_total{code=\"200\",method=\"GET\"} %.0f\n", requests);
  absl::StrAppendFormat(&text, "http_requests_total{code=\"404\",method=\"GET\"} %.0f\n",
                        requests * 0.01);
  absl::StrAppendFormat(&text, "http_requests_total{code=\"503\",method=\"GET\"} %.0f\n",
                        requests * 0.001 + r / 3);
  written += 3;
  text += "# TYPE http_request_duration_seconds histogram\n";
  static const char* kBuckets[] = {"0.005", "0.01", "0.025", "0.05", "0.1",
                                   "0.25",  "0.5",  "1",     "2.5",  "+Inf"};
  double cumulative = 0;
  for (const char* le : kBuckets) {
    cumulative += requests / 10;
    absl::StrAppendFormat(&text, "http_request_duration_seconds_bucket{le=\"%s\"} %.0f\n", le,
                          cumulative);
    ++written;
  }
  absl::StrAppendFormat(&text, "http_request_duration_seconds_sum %.3f\n",
                        requests * 0.02 + std::abs(noise(rng)));
  absl::StrAppendFormat(&text, "http_request_duration_seconds_count %.0f\n", requests);
  written += 2;
  text += "# TYPE go_memstats_alloc_bytes gauge\n";
  for (int i = 0; written < samples; ++i, ++written) {
    absl::StrAppendFormat(&text, "go_runtime_gauge{name=\"g%d\"} %.1f\n", i,
                          1000 * i + 10 * noise(rng));
  }
  return text;
}

class BenchLearner : public RiskLearner {
 public:
  explicit BenchLearner(ModelRegistry* registry) : registry_(registry) {}
  std::shared_ptr<const RiskModel> Current() const override { return registry_->Current(); }
  void RecordExample(const InstanceSignals& signals, absl::Time at) override {
    registry_->RecordExample(signals, at);
  }
  void RecordFailure(const std::string& id, absl::Time at, const std::string& kind) override {
    registry_->RecordFailure(id, at, kind);
  }
  void RecordCensored(const std::string& id, absl::Time at) override {
    registry_->RecordCensored(id, at);
  }

 private:
  ModelRegistry* registry_;
};

// Scrapes to replay, each with its time as an offset from the first.
struct Replay {
  std::vector<std::string> texts;
  std::vector<int64_t> offsets_ms;
  size_t samples = 0;  // In all texts together.
};

size_t CountSamples(const std::string& text) {
  ExpositionParser parser;
  return static_cast<size_t>(parser.Parse(
      text, [](const SampleView&) {}, [](const ParseProblem&) {}));
}

// Saved scrapes, oldest first; exits on a directory with none.
Replay LoadScrapes(const std::string& dir) {
  std::vector<std::pair<int64_t, std::string>> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("scrape-", 0) == 0) {
      files.emplace_back(std::atoll(name.c_str() + 7), entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::fprintf(stderr, "no scrape-<unix ms>.prom files in %s\n", dir.c_str());
    std::exit(2);
  }
  Replay replay;
  for (const auto& [t, path] : files) {
    absl::StatusOr<std::string> text = ReadFile(path);
    if (!text.ok()) {
      std::fprintf(stderr, "%s\n", text.status().ToString().c_str());
      std::exit(2);
    }
    replay.samples += CountSamples(*text);
    replay.texts.push_back(*std::move(text));
    replay.offsets_ms.push_back(t - files.front().first);
  }
  return replay;
}

struct World {
  FakeClock clock{absl::FromUnixSeconds(1'700'000'000)};
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<FleetState> state;
  std::unique_ptr<Ledger> ledger;
  std::unique_ptr<SimCloud> cloud;
  std::unique_ptr<ProviderSet> providers;
  std::unique_ptr<LiveManager> live;
  std::vector<std::string> ids;
  Replay synthetic;

  World() {
    SetLogLevel("warn");
    store = *SqliteStore::Open({":memory:", false});
    state = std::make_unique<FleetState>(store.get());
    ledger = std::make_unique<Ledger>(store.get(), &clock);
    cloud = std::make_unique<SimCloud>(&clock);
    ProviderEnvironment environment;
    environment.clock = &clock;
    environment.sim_cloud = cloud.get();
    providers = std::make_unique<ProviderSet>(environment);
    LiveManagerOptions live_options;
    live_options.workers = 1;
    live = std::make_unique<LiveManager>(state.get(), ledger.get(), providers.get(), &clock,
                                         nullptr, live_options);
    (void)ApplyFleetSpecs(*state, clock, FleetYaml(g_instances), "bench", "bench");
    for (int i = 0; i < 6; ++i) {
      (void)state->Sync();
      live->ReconcileAll();
      clock.Advance(absl::Seconds(1));
    }
    (void)state->Sync();
    ids = state->InstanceIds();
    std::mt19937_64 rng(7);
    for (int r = 0; r < kRounds; ++r) {
      synthetic.texts.push_back(ScrapeText(r, g_samples, rng));
      synthetic.offsets_ms.push_back(r * kScrapeMs);
      synthetic.samples += CountSamples(synthetic.texts.back());
    }
  }
};

World& TheWorld() {
  static auto* world = new World();
  return *world;
}

// Replays every scrape once per iteration-round; the benchmark's iteration count must be the
// number of scrapes.
void Run(benchmark::State& bench, bool score, const Replay& replay) {
  World& w = TheWorld();
  TelemetryOptions telemetry_options;
  telemetry_options.persist_features = false;
  SignalTracker signals;
  ModelRegistry registry(w.store.get(), &w.clock);
  BenchLearner learner(&registry);
  TelemetryEngine telemetry(w.state.get(), w.store.get(), &w.clock, nullptr,
                            score ? &signals : nullptr, telemetry_options);
  RiskEngine risk(w.state.get(), w.ledger.get(), &signals, &learner, &w.clock, nullptr);
  const absl::Time start = w.clock.Now() + absl::Seconds(1);
  size_t round = 0;
  size_t rejected = 0;
  for (auto _ : bench) {
    w.clock.SetTime(start + absl::Milliseconds(replay.offsets_ms[round]));
    const int64_t now_ms = absl::ToUnixMillis(w.clock.Now());
    for (const std::string& id : w.ids) {
      rejected += telemetry.Ingest(id, replay.texts[round], now_ms).rejected_total();
    }
    if (score) {
      risk.ScoreAll();
    }
    ++round;
  }
  const double samples = static_cast<double>(replay.samples) * w.ids.size();
  bench.SetItemsProcessed(static_cast<int64_t>(samples));
  bench.counters["samples_per_s"] = benchmark::Counter(samples, benchmark::Counter::kIsRate);
  TelemetryStats stats = telemetry.Stats();
  bench.counters["instances"] = static_cast<double>(w.ids.size());
  bench.counters["samples_per_scrape"] =
      static_cast<double>(replay.samples) / static_cast<double>(replay.texts.size());
  bench.counters["rejected"] = static_cast<double>(rejected);
  bench.counters["series"] = static_cast<double>(stats.series);
  bench.counters["bytes_per_sample"] =
      stats.samples == 0 ? 0 : static_cast<double>(stats.bytes) / stats.samples;
  bench.counters["bytes_per_series"] =
      stats.series == 0 ? 0
                        : static_cast<double>(stats.bytes + signals.StateBytes()) / stats.series;
  if (score) {
    std::optional<RiskView> view = risk.Get(w.ids.front());
    bench.counters["risk_of_first"] = view ? view->assessment.probability : -1;
  }
}

}  // namespace
}  // namespace shadowfleet

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--instances=", 12) == 0) {
      shadowfleet::g_instances = std::atoi(argv[i] + 12);
    } else if (std::strncmp(argv[i], "--samples=", 10) == 0) {
      shadowfleet::g_samples = std::atoi(argv[i] + 10);
    } else if (std::strncmp(argv[i], "--scrapes=", 10) == 0) {
      shadowfleet::g_scrapes = argv[i] + 10;
    }
  }
  benchmark::Initialize(&argc, argv);
  // Every scrape replayed exactly once, so that every run fills the same histories: the
  // first rounds create series, later ones only append.
  using shadowfleet::Replay;
  const Replay& synthetic = shadowfleet::TheWorld().synthetic;
  const auto rounds = static_cast<benchmark::IterationCount>(synthetic.texts.size());
  benchmark::RegisterBenchmark("Telemetry/Ingest",
                               [&](benchmark::State& s) { shadowfleet::Run(s, false, synthetic); })
      ->Unit(benchmark::kMillisecond)
      ->Iterations(rounds);
  benchmark::RegisterBenchmark("Telemetry/IngestAndScore",
                               [&](benchmark::State& s) { shadowfleet::Run(s, true, synthetic); })
      ->Unit(benchmark::kMillisecond)
      ->Iterations(rounds);
  Replay real;
  if (!shadowfleet::g_scrapes.empty()) {
    real = shadowfleet::LoadScrapes(shadowfleet::g_scrapes);
    benchmark::RegisterBenchmark("Telemetry/RealScrapes",
                                 [&](benchmark::State& s) { shadowfleet::Run(s, true, real); })
        ->Unit(benchmark::kMillisecond)
        ->Iterations(static_cast<benchmark::IterationCount>(real.texts.size()));
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

// The configuration ledger's storage on a realistic change stream: 100 instances x 1,000
// versions, each version changing one to three fields (package bumps, configuration edits)
// of a document of about 200 fields. Compares the bytes the ledger stores with storing every
// version in full, in the same SQLite schema with the same metadata, and measures how long it
// takes to rebuild a random version and to append one.
//
//   build/default/bench/shadowfleet_bench_ledger [--instances=N] [--versions=N] [--seed=N]
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "shadowfleet/common/digest.h"
#include "shadowfleet/common/logging.h"
#include "shadowfleet/ledger/ledger.h"
#include "shadowfleet/store/sqlite_store.h"

namespace shadowfleet {
namespace {

int g_instances = 100;
int g_versions = 1000;
uint64_t g_seed = 42;

// A configuration document of about 200 leaves, shaped like a real host's: OS, 60 installed
// packages with Debian-style versions, and 130 configuration values in sections.
nlohmann::json MakeDocument(std::mt19937_64& rng) {
  nlohmann::json doc;
  doc["instanceType"] = "m6i.large";
  doc["os"] = {{"name", "debian"}, {"version", "12.8"}, {"kernel", "6.1.0-27-amd64"}};
  std::uniform_int_distribution<int> small(0, 30);
  for (int p = 0; p < 60; ++p) {
    doc["software"][absl::StrFormat("lib-package-%02d", p)] =
        absl::StrFormat("%d.%d.%d-%d+deb12u%d", small(rng) % 5, small(rng), small(rng),
                        small(rng) % 4 + 1, small(rng) % 9);
  }
  for (int s = 0; s < 13; ++s) {
    for (int k = 0; k < 10; ++k) {
      std::string key = absl::StrFormat("setting_%02d", k);
      nlohmann::json& section = doc["config"][absl::StrFormat("section_%02d", s)];
      switch (k % 3) {
        case 0:
          section[key] = std::uniform_int_distribution<int>(1, 65535)(rng);
          break;
        case 1:
          section[key] = absl::StrFormat("value-%08x", static_cast<uint32_t>(rng()));
          break;
        default:
          section[key] = (rng() & 1) != 0;
      }
    }
  }
  return doc;
}

// Changes one to three leaves, as a package bump or a configuration edit does.
void Mutate(nlohmann::json& doc, std::mt19937_64& rng) {
  int changes = std::uniform_int_distribution<int>(1, 3)(rng);
  for (int c = 0; c < changes; ++c) {
    if (rng() % 3 == 0) {
      std::string package =
          absl::StrFormat("lib-package-%02d", std::uniform_int_distribution<int>(0, 59)(rng));
      doc["software"][package] = absl::StrFormat(
          "%d.%d.%d-1+deb12u%d", static_cast<int>(rng() % 5), static_cast<int>(rng() % 30),
          static_cast<int>(rng() % 30), static_cast<int>(rng() % 9));
    } else {
      std::string section =
          absl::StrFormat("section_%02d", std::uniform_int_distribution<int>(0, 12)(rng));
      int k = std::uniform_int_distribution<int>(0, 9)(rng);
      std::string key = absl::StrFormat("setting_%02d", k);
      nlohmann::json& value = doc["config"][section][key];
      if (k % 3 == 0) {
        value = std::uniform_int_distribution<int>(1, 65535)(rng);
      } else if (k % 3 == 1) {
        value = absl::StrFormat("value-%08x", static_cast<uint32_t>(rng()));
      } else {
        value = !value.get<bool>();
      }
    }
  }
}

int CountLeaves(const nlohmann::json& j) {
  if (!j.is_object() && !j.is_array()) {
    return 1;
  }
  int n = 0;
  for (const auto& item : j) {
    n += CountLeaves(item);
  }
  return n;
}

std::string TempPath(const std::string& name) {
  return absl::StrCat("/tmp/shadowfleet-bench-", getpid(), "-", name, ".db");
}

void Storage(benchmark::State& bench) {
  SetLogLevel("warn");
  std::string ledger_path = TempPath("ledger");
  std::string full_path = TempPath("full");
  FakeClock clock;
  int64_t full_json_bytes = 0;
  int leaves = 0;
  double append_seconds = 0;
  for (auto _ : bench) {
    std::filesystem::remove(ledger_path);
    std::filesystem::remove(full_path);
    auto ledger_store = *SqliteStore::Open({ledger_path, false});
    auto full_store = *SqliteStore::Open({full_path, false});
    LedgerOptions options;
    options.record_events = false;  // Events are the audit log, not the ledger.
    Ledger ledger(ledger_store.get(), &clock, options);
    std::mt19937_64 rng(g_seed);
    absl::Duration appending;
    for (int i = 0; i < g_instances; ++i) {
      std::string id = absl::StrCat("web-", i);
      nlohmann::json doc = MakeDocument(rng);
      leaves = CountLeaves(doc);
      for (int v = 1; v <= g_versions; ++v) {
        if (v > 1) {
          nlohmann::json previous = doc;
          while (doc == previous) {  // Two edits may cancel out; a version is a change.
            Mutate(doc, rng);
          }
        }
        clock.Advance(absl::Seconds(1));
        absl::Time start = absl::Now();
        auto recorded = ledger.Record(id, doc, {"bench", "change", ChangeSource::kRecorded});
        appending += absl::Now() - start;
        if (!recorded.ok() || recorded->info.version != v) {
          bench.SkipWithError(
              recorded.ok()
                  ? absl::StrCat("unexpected version ", recorded->info.version, " for ", v).c_str()
                  : std::string(recorded.status().message()).c_str());
          return;
        }
        // The baseline: the same record with the full document as its payload.
        std::string text = doc.dump();
        full_json_bytes += static_cast<int64_t>(text.size());
        VersionRecord full;
        full.instance_id = id;
        full.version = v;
        full.checkpoint = true;
        full.payload = "J" + text;
        full.digest = Sha256(text);
        full.created_at_ms = absl::ToUnixMillis(clock.Now());
        full.author = "bench";
        full.reason = "change";
        full.source = static_cast<int>(ChangeSource::kRecorded);
        WriteBatch batch;
        batch.AppendVersion(full);
        if (!full_store->Commit(batch).ok()) {
          bench.SkipWithError("baseline append failed");
          return;
        }
      }
    }
    append_seconds = absl::ToDoubleSeconds(appending);
    auto ledger_stats = *ledger_store->ReadLedgerStats();
    auto full_stats = *full_store->ReadLedgerStats();
    int64_t ledger_file = *ledger_store->CompactAndMeasure();
    int64_t full_file = *full_store->CompactAndMeasure();

    // Rebuild cost: random versions of random instances, from a cold cache.
    LedgerOptions cold;
    cold.cache_capacity = 1;
    Ledger reader(ledger_store.get(), &clock, cold);
    absl::Time start = absl::Now();
    constexpr int kReads = 2000;
    for (int r = 0; r < kReads; ++r) {
      std::string id = absl::StrCat("web-", rng() % g_instances);
      if (!reader.Document(id, 1 + static_cast<int64_t>(rng() % g_versions)).ok()) {
        bench.SkipWithError("rebuild failed");
        return;
      }
    }
    double rebuild_us = absl::ToDoubleMicroseconds(absl::Now() - start) / kReads;

    bench.counters["versions"] = static_cast<double>(ledger_stats.versions);
    bench.counters["doc_leaves"] = leaves;
    bench.counters["checkpoints"] = static_cast<double>(ledger_stats.checkpoints);
    bench.counters["ledger_file_MB"] = ledger_file / 1e6;
    bench.counters["full_file_MB"] = full_file / 1e6;
    bench.counters["file_ratio_pct"] = 100.0 * ledger_file / full_file;
    bench.counters["record_ratio_pct"] =
        100.0 * ledger_stats.record_bytes / full_stats.record_bytes;
    bench.counters["payload_ratio_pct"] = 100.0 * ledger_stats.payload_bytes / full_json_bytes;
    bench.counters["bytes_per_version"] =
        static_cast<double>(ledger_stats.record_bytes) / ledger_stats.versions;
    bench.counters["full_bytes_per_version"] =
        static_cast<double>(full_stats.record_bytes) / full_stats.versions;
    bench.counters["rebuild_us"] = rebuild_us;
    bench.counters["append_us"] = 1e6 * append_seconds / ledger_stats.versions;
  }
  std::filesystem::remove(ledger_path);
  std::filesystem::remove(full_path);
  std::filesystem::remove(ledger_path + "-wal");
  std::filesystem::remove(full_path + "-wal");
  std::filesystem::remove(ledger_path + "-shm");
  std::filesystem::remove(full_path + "-shm");
}

}  // namespace
}  // namespace shadowfleet

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--instances=", 12) == 0) {
      shadowfleet::g_instances = std::atoi(argv[i] + 12);
    } else if (std::strncmp(argv[i], "--versions=", 11) == 0) {
      shadowfleet::g_versions = std::atoi(argv[i] + 11);
    } else if (std::strncmp(argv[i], "--seed=", 7) == 0) {
      shadowfleet::g_seed = std::strtoull(argv[i] + 7, nullptr, 10);
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RegisterBenchmark("Ledger/Storage", shadowfleet::Storage)
      ->Unit(benchmark::kSecond)
      ->Iterations(1);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

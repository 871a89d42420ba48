// The ways the demo service can be told to degrade, each the shape of a real failure: a
// memory leak ending in an out-of-memory kill, latency creeping up until health checks time
// out, error bursts growing until the service is declared unhealthy, a disk filling up, a
// crash after a slow warning, and a sudden crash with no warning at all.
//
// Thread-safe: requests consult it from the server's threads while a background thread
// advances it.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace shadowfleet::workload {

enum class DegradationMode {
  kNone,
  kMemoryLeak,    // Leaks memory at a rate; killed when the memory limit is reached.
  kLatencyCreep,  // Adds latency growing at a rate; fails health checks past a ceiling.
  kErrorBursts,   // Bursts of 5xx growing in frequency; unhealthy after `fail_after`.
  kDiskFill,      // Fills the data volume at a rate; unhealthy once it is full.
  kSlowCrash,     // Slightly more errors and latency for `warning`, then a crash.
  kSuddenCrash,   // Crashes after `delay`, with no warning sign.
  kErrors,        // Fails a constant share (`rate`, 0..1) of requests; for tests and demos.
  kSlow,          // Adds a constant latency (`rate` ms) to every request.
};

const char* DegradationModeName(DegradationMode mode);
std::optional<DegradationMode> ParseDegradationMode(const std::string& name);

struct DegradationParams {
  DegradationMode mode = DegradationMode::kNone;
  double rate = 0;           // MB/s (leak, disk), ms of added latency per s (creep).
  double seconds = 60;       // fail_after (bursts), warning (slow crash), delay (sudden).
  double ceiling_ms = 2000;  // Latency creep: added latency at which health checks fail.

  // Parses {"mode": "...", "rate": ..., "seconds": ..., "ceilingMs": ...}; an error names the
  // offending field.
  static std::optional<DegradationParams> FromJson(const nlohmann::json& j, std::string* error);
  nlohmann::json ToJson() const;
};

// What a request should suffer right now.
struct RequestEffect {
  double extra_latency_ms = 0;
  bool fail = false;  // Answer 5xx.
};

class Degradation {
 public:
  Degradation(size_t memory_limit_bytes, size_t disk_quota_bytes, std::string data_dir,
              uint64_t seed);

  void Start(const DegradationParams& params);
  void Stop();  // Ends a running degradation (a crash already under way cannot be undone).
  nlohmann::json Status() const;

  // Called once a second by the service. May terminate the process (the failure).
  void Tick();

  RequestEffect OnRequest();
  bool Healthy() const;
  size_t disk_used_bytes() const;

 private:
  double Elapsed() const;  // Seconds since Start.

  const size_t memory_limit_;
  const size_t disk_quota_;
  const std::string data_dir_;
  mutable std::mutex mu_;
  DegradationParams params_;
  std::chrono::steady_clock::time_point started_;
  std::vector<std::vector<char>> leaked_;
  size_t disk_written_ = 0;
  std::mt19937_64 rng_;
};

// Resident memory of this process, from /proc/self/statm.
size_t ResidentBytes();

}  // namespace shadowfleet::workload

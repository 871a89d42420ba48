// A simulated instance's telemetry for risk tests: the default features every 10 seconds, as
// the telemetry engine computes them, healthy (noise, a daily cycle, a garbage-collection
// sawtooth, a failed scrape now and then) or degrading in one of the ways real instances fail.
// Samples go through a real SignalTracker, so the tests see what live scoring would see.
#pragma once

#include <cmath>
#include <optional>
#include <random>
#include <string>

#include "shadowfleet/prediction/signal_tracker.h"

namespace shadowfleet::testing {

enum class Degradation { kNone, kMemoryLeak, kDiskFill, kLatencyCreep, kErrorBursts };

struct SimulatedInstanceOptions {
  std::string id = "web-0";
  uint64_t seed = 1;
  Degradation degradation = Degradation::kNone;
  double degrade_after_seconds = 6 * 3600;
  // Latency as a bounded resource: the health-check timeout, in seconds (0: unbounded).
  double latency_limit = 0;
  double scrape_failure_rate = 0.001;
};

class SimulatedInstance {
 public:
  static constexpr double kStep = 10;  // Seconds between samples.

  explicit SimulatedInstance(SimulatedInstanceOptions options)
      : options_(std::move(options)), rng_(options_.seed) {}

  // Feeds the samples of one step at time `t` (seconds since the start) into `tracker`.
  // Returns false once the instance has failed (a resource ran out).
  bool Step(double t, SignalTracker& tracker) {
    const double since = t - options_.degrade_after_seconds;
    const bool degrading = options_.degradation != Degradation::kNone && since > 0;
    const double day = 2 * M_PI * t / 86400;

    double cpu = 0.3 + 0.1 * std::sin(day) + Noise(0.03);
    double memory = 0.5 + Noise(0.01);
    double disk = 0.4 + t / (86400.0 * 1000) + Noise(0.001);
    double process = 0.3 + 0.15 * std::fmod(t, 300) / 300 + Noise(0.005);  // GC sawtooth.
    double latency = 0.05 * std::exp(Noise(0.15));
    double errors = std::max(0.0, 0.001 + Noise(0.0007));
    if (degrading) {
      switch (options_.degradation) {
        case Degradation::kMemoryLeak:
          memory += 0.01 * since / 60;  // 1 % per minute: out of memory after 50 minutes.
          break;
        case Degradation::kDiskFill:
          disk += 0.005 * since / 60;  // 0.5 % per minute: full after two hours.
          break;
        case Degradation::kLatencyCreep:
          latency += 0.01 * since / 60;  // 10 ms more every minute.
          break;
        case Degradation::kErrorBursts: {
          // Bursts in a growing share of each 10 s, failing a growing share of requests.
          double progress = std::min(1.0, since / 1800);
          errors += progress * (0.2 + 0.6 * progress) * (0.8 + Noise(0.1));
          break;
        }
        case Degradation::kNone:
          break;
      }
    }
    if (memory >= 1.0 || disk >= 1.0 ||
        (options_.latency_limit > 0 && latency >= options_.latency_limit)) {
      return false;
    }
    const auto ms = static_cast<int64_t>(t * 1000) + kEpochMs;
    const std::string& id = options_.id;
    tracker.OnFeature(id, "cpu_utilisation", ms, cpu, std::nullopt);
    tracker.OnFeature(id, "memory_used_ratio", ms, memory, 1.0);
    tracker.OnFeature(id, "disk_used_ratio", ms, disk, 1.0);
    tracker.OnFeature(id, "disk_io_utilisation", ms, 0.05 + std::fabs(Noise(0.02)), std::nullopt);
    tracker.OnFeature(
        id, "network_latency_seconds", ms, latency,
        options_.latency_limit > 0 ? std::optional(options_.latency_limit) : std::nullopt);
    tracker.OnFeature(id, "error_rate", ms, std::min(1.0, errors), std::nullopt);
    tracker.OnFeature(id, "process_memory_ratio", ms, process, 1.0);
    tracker.OnFeature(id, "up", ms, Uniform() < options_.scrape_failure_rate ? 0.0 : 1.0,
                      std::nullopt);
    return true;
  }

  const std::string& id() const { return options_.id; }
  static constexpr int64_t kEpochMs = 1'700'000'000'000;

 private:
  double Noise(double sd) { return std::normal_distribution<double>(0, sd)(rng_); }
  double Uniform() { return std::uniform_real_distribution<double>(0, 1)(rng_); }

  SimulatedInstanceOptions options_;
  std::mt19937_64 rng_;
};

}  // namespace shadowfleet::testing

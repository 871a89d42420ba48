#include "shadowfleet/workload/degradation.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace shadowfleet::workload {
namespace {

constexpr std::pair<const char*, DegradationMode> kModes[] = {
    {"none", DegradationMode::kNone},
    {"memory_leak", DegradationMode::kMemoryLeak},
    {"latency_creep", DegradationMode::kLatencyCreep},
    {"error_bursts", DegradationMode::kErrorBursts},
    {"disk_fill", DegradationMode::kDiskFill},
    {"slow_crash", DegradationMode::kSlowCrash},
    {"sudden_crash", DegradationMode::kSuddenCrash},
    {"errors", DegradationMode::kErrors},
    {"slow", DegradationMode::kSlow},
};

// How the process ends when a degradation runs its course: like the kernel's OOM killer
// (SIGKILL, exit status 137) or an abort.
[[noreturn]] void Die(const char* why, int code) {
  std::fprintf(stderr, "workload: %s\n", why);
  std::fflush(stderr);
  std::_Exit(code);
}

}  // namespace

const char* DegradationModeName(DegradationMode mode) {
  for (const auto& [name, m] : kModes) {
    if (m == mode) {
      return name;
    }
  }
  return "unknown";
}

std::optional<DegradationMode> ParseDegradationMode(const std::string& name) {
  for (const auto& [n, m] : kModes) {
    if (name == n) {
      return m;
    }
  }
  return std::nullopt;
}

std::optional<DegradationParams> DegradationParams::FromJson(const nlohmann::json& j,
                                                             std::string* error) {
  if (!j.is_object()) {
    *error = "body must be a JSON object";
    return std::nullopt;
  }
  DegradationParams p;
  if (!j.contains("mode") || !j["mode"].is_string()) {
    *error =
        "mode: required, one of none, memory_leak, latency_creep, error_bursts, "
        "disk_fill, slow_crash, sudden_crash, errors, slow";
    return std::nullopt;
  }
  std::optional<DegradationMode> mode = ParseDegradationMode(j["mode"].get<std::string>());
  if (!mode) {
    *error = "mode: unknown mode \"" + j["mode"].get<std::string>() + "\"";
    return std::nullopt;
  }
  p.mode = *mode;
  for (const auto& [key, target] : {std::pair<const char*, double*>{"rate", &p.rate},
                                    {"seconds", &p.seconds},
                                    {"ceilingMs", &p.ceiling_ms}}) {
    if (j.contains(key)) {
      if (!j[key].is_number() || j[key].get<double>() < 0) {
        *error = std::string(key) + ": must be a non-negative number";
        return std::nullopt;
      }
      *target = j[key].get<double>();
    }
  }
  return p;
}

nlohmann::json DegradationParams::ToJson() const {
  return {{"mode", DegradationModeName(mode)},
          {"rate", rate},
          {"seconds", seconds},
          {"ceilingMs", ceiling_ms}};
}

size_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

Degradation::Degradation(size_t memory_limit_bytes, size_t disk_quota_bytes, std::string data_dir,
                         uint64_t seed)
    : memory_limit_(memory_limit_bytes),
      disk_quota_(disk_quota_bytes),
      data_dir_(std::move(data_dir)),
      rng_(seed) {}

void Degradation::Start(const DegradationParams& params) {
  std::lock_guard lock(mu_);
  params_ = params;
  started_ = std::chrono::steady_clock::now();
}

void Degradation::Stop() {
  std::lock_guard lock(mu_);
  params_ = DegradationParams();
  leaked_.clear();
}

double Degradation::Elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

nlohmann::json Degradation::Status() const {
  std::lock_guard lock(mu_);
  nlohmann::json j = params_.ToJson();
  j["elapsedSeconds"] = params_.mode == DegradationMode::kNone ? 0 : Elapsed();
  j["leakedBytes"] = leaked_.size() * (1 << 20);
  j["diskWrittenBytes"] = disk_written_;
  return j;
}

void Degradation::Tick() {
  std::lock_guard lock(mu_);
  double t = Elapsed();
  switch (params_.mode) {
    case DegradationMode::kMemoryLeak: {
      // Leak in whole megabytes, touching every page so that it is resident.
      size_t target_mb = static_cast<size_t>(params_.rate * t);
      while (leaked_.size() < target_mb) {
        leaked_.emplace_back(1 << 20, static_cast<char>(leaked_.size()));
      }
      if (ResidentBytes() >= memory_limit_) {
        Die("out of memory: resident memory reached the limit", 137);
      }
      break;
    }
    case DegradationMode::kDiskFill: {
      size_t target = static_cast<size_t>(params_.rate * t * (1 << 20));
      if (target > disk_written_ && !data_dir_.empty()) {
        std::ofstream out(data_dir_ + "/ballast.bin", std::ios::app | std::ios::binary);
        std::vector<char> chunk(std::min<size_t>(target - disk_written_, 64 << 20), 'x');
        out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        disk_written_ += chunk.size();
      }
      break;
    }
    case DegradationMode::kSlowCrash:
      if (t >= params_.seconds) {
        Die("crashed after warning signs", 134);
      }
      break;
    case DegradationMode::kSuddenCrash:
      if (t >= params_.seconds) {
        Die("crashed without warning", 134);
      }
      break;
    default:
      break;
  }
}

RequestEffect Degradation::OnRequest() {
  std::lock_guard lock(mu_);
  RequestEffect effect;
  if (params_.mode == DegradationMode::kNone) {
    return effect;
  }
  double t = Elapsed();
  std::uniform_real_distribution<double> uniform(0, 1);
  switch (params_.mode) {
    case DegradationMode::kLatencyCreep:
      effect.extra_latency_ms = std::min(params_.rate * t, params_.ceiling_ms * 1.5);
      break;
    case DegradationMode::kErrorBursts: {
      // Bursts of a few seconds, more frequent and denser as time goes on.
      double progress = std::min(1.0, t / std::max(1.0, params_.seconds));
      bool in_burst = std::fmod(t, 10.0) < 10.0 * progress;
      effect.fail = in_burst && uniform(rng_) < 0.2 + 0.6 * progress;
      break;
    }
    case DegradationMode::kDiskFill:
      effect.fail = disk_written_ >= disk_quota_;
      break;
    case DegradationMode::kSlowCrash: {
      double progress = std::min(1.0, t / std::max(1.0, params_.seconds));
      effect.extra_latency_ms = 20 * progress;
      effect.fail = uniform(rng_) < 0.02 * progress;
      break;
    }
    case DegradationMode::kErrors:
      effect.fail = uniform(rng_) < params_.rate;
      break;
    case DegradationMode::kSlow:
      effect.extra_latency_ms = params_.rate;
      break;
    default:
      break;
  }
  return effect;
}

bool Degradation::Healthy() const {
  std::lock_guard lock(mu_);
  double t = params_.mode == DegradationMode::kNone ? 0 : Elapsed();
  switch (params_.mode) {
    case DegradationMode::kLatencyCreep:
      return params_.rate * t < params_.ceiling_ms;
    case DegradationMode::kErrorBursts:
      return t < params_.seconds;
    case DegradationMode::kDiskFill:
      return disk_written_ < disk_quota_;
    default:
      return true;
  }
}

size_t Degradation::disk_used_bytes() const {
  std::lock_guard lock(mu_);
  return disk_written_;
}

}  // namespace shadowfleet::workload

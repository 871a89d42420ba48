// Fakes for the switchover controller's collaborators in unit tests: a router that keeps
// weights in memory, and replica metrics whose error rate and latency the test sets.
#pragma once

#include <algorithm>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "shadowfleet/router/router.h"
#include "shadowfleet/switchover/replica_metrics.h"

namespace shadowfleet::testing {

// A router that keeps weights in memory and checks, on every change, that no instance's pair
// is ever left with no traffic.
class FakeRouter : public Router {
 public:
  const char* name() const override { return "fake"; }
  absl::Status Ensure(const Backend& backend, int weight) override {
    std::lock_guard lock(mu_);
    if (fail_) {
      return absl::UnavailableError("router down");
    }
    weights_[backend.name] = weight;
    history_.push_back(weights_);
    return absl::OkStatus();
  }
  absl::Status SetWeights(const std::vector<std::pair<Backend, int>>& weights) override {
    for (const auto& [backend, weight] : weights) {
      if (absl::Status s = Ensure(backend, weight); !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }
  absl::Status Drain(const Backend& backend) override {
    std::lock_guard lock(mu_);
    drained_.push_back(backend.name);
    return absl::OkStatus();
  }
  absl::Status Remove(const Backend& backend) override {
    std::lock_guard lock(mu_);
    weights_.erase(backend.name);
    removed_.push_back(backend.name);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<BackendState>> Read(const std::vector<Backend>& backends) override {
    std::lock_guard lock(mu_);
    std::vector<BackendState> out;
    for (const Backend& b : backends) {
      auto it = weights_.find(b.name);
      out.push_back(
          {b.name, b.address, it == weights_.end() ? 0 : it->second, false, it != weights_.end()});
    }
    return out;
  }

  int Weight(const std::string& name) {
    std::lock_guard lock(mu_);
    auto it = weights_.find(name);
    return it == weights_.end() ? -1 : it->second;
  }
  // Every state the pair (a, b) went through had traffic on at least one of them.
  bool PairNeverEmpty(const std::string& a, const std::string& b) {
    std::lock_guard lock(mu_);
    for (const auto& state : history_) {
      auto wa = state.find(a);
      auto wb = state.find(b);
      int total = (wa == state.end() ? 0 : wa->second) + (wb == state.end() ? 0 : wb->second);
      bool known = wa != state.end() || wb != state.end();
      if (known && total <= 0) {
        return false;
      }
    }
    return true;
  }
  std::vector<std::string> removed() {
    std::lock_guard lock(mu_);
    return removed_;
  }
  void Fail(bool fail) {
    std::lock_guard lock(mu_);
    fail_ = fail;
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> weights_;
  std::vector<std::map<std::string, int>> history_;
  std::vector<std::string> drained_, removed_;
  bool fail_ = false;
};

// Counters that grow by 100 requests per read, failing and taking as long as the test says
// for each replica, with a little noise.
class FakeMetrics : public ReplicaMetricsSource {
 public:
  absl::StatusOr<ReplicaCounters> Read(const Replica& replica,
                                       const SwitchoverSpec& policy) override {
    (void)policy;
    std::lock_guard lock(mu_);
    Behaviour& b = behaviour_[replica.id];
    ReplicaCounters& c = counters_[replica.id];
    std::normal_distribution<double> noise(0, 0.002);
    c.requests += 100;
    c.errors += 100 * b.error_rate;
    c.latency_count += 100;
    c.latency_sum += 100 * std::max(0.0, b.latency + noise(rng_));
    return c;
  }
  void Set(const std::string& replica, double error_rate, double latency) {
    std::lock_guard lock(mu_);
    behaviour_[replica] = {error_rate, latency};
  }

 private:
  struct Behaviour {
    double error_rate = 0;
    double latency = 0.05;
  };
  std::mutex mu_;
  std::map<std::string, Behaviour> behaviour_;
  std::map<std::string, ReplicaCounters> counters_;
  std::mt19937_64 rng_{3};
};

}  // namespace shadowfleet::testing

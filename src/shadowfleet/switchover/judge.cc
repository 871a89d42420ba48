#include "shadowfleet/switchover/judge.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_format.h"

namespace shadowfleet {
namespace {

// Latency differences below this are noise on any real network, whatever the test says.
constexpr double kLatencyFloorSeconds = 0.001;

double Mean(const std::vector<double>& v) {
  return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

double Variance(const std::vector<double>& v) {
  if (v.size() < 2) {
    return 0;
  }
  double m = Mean(v);
  double sum = 0;
  for (double x : v) {
    sum += (x - m) * (x - m);
  }
  return sum / static_cast<double>(v.size() - 1);
}

double Rate(const ReplicaSamples& s) {
  return s.requests == 0 ? 0 : static_cast<double>(s.errors) / static_cast<double>(s.requests);
}

}  // namespace

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kFail:
      return "fail";
    case Verdict::kInconclusive:
      return "inconclusive";
  }
  return "unknown";
}

nlohmann::json Judgement::ToJson() const {
  return {{"verdict", VerdictName(verdict)},    {"reason", reason},
          {"oldSamples", old_samples},          {"newSamples", new_samples},
          {"oldErrorRate", old_error_rate},     {"newErrorRate", new_error_rate},
          {"oldLatencyMean", old_latency_mean}, {"newLatencyMean", new_latency_mean},
          {"latencyPValue", latency_p_value},   {"errorPValue", error_p_value},
          {"varianceRatio", variance_ratio}};
}

double MannWhitneyGreater(const std::vector<double>& x, const std::vector<double>& y) {
  size_t n1 = x.size();
  size_t n2 = y.size();
  if (n1 == 0 || n2 == 0) {
    return 1;
  }
  std::vector<std::pair<double, int>> all;
  all.reserve(n1 + n2);
  for (double v : x) {
    all.emplace_back(v, 0);
  }
  for (double v : y) {
    all.emplace_back(v, 1);
  }
  std::sort(all.begin(), all.end());
  double rank_sum_x = 0;
  double tie_term = 0;
  size_t n = all.size();
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && all[j].first == all[i].first) {
      ++j;
    }
    double average_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    double t = static_cast<double>(j - i);
    tie_term += t * t * t - t;
    for (size_t k = i; k < j; ++k) {
      if (all[k].second == 0) {
        rank_sum_x += average_rank;
      }
    }
    i = j;
  }
  double nn = static_cast<double>(n);
  double u = rank_sum_x - static_cast<double>(n1 * (n1 + 1)) / 2;
  double mean = static_cast<double>(n1 * n2) / 2;
  double variance = static_cast<double>(n1 * n2) / 12 * ((nn + 1) - tie_term / (nn * (nn - 1)));
  if (variance <= 0) {
    return 1;
  }
  double z = (u - mean - 0.5) / std::sqrt(variance);
  return 0.5 * std::erfc(z / std::sqrt(2.0));
}

Judgement JudgeAlone(const ReplicaSamples& new_replica, const SwitchoverSpec& policy) {
  Judgement j;
  j.new_samples = static_cast<int>(new_replica.latencies.size());
  j.new_error_rate = Rate(new_replica);
  j.new_latency_mean = Mean(new_replica.latencies);
  if (j.new_samples < policy.min_samples) {
    j.verdict = Verdict::kInconclusive;
    j.reason = absl::StrFormat("only %d samples with traffic on the new replica (need %d)",
                               j.new_samples, policy.min_samples);
    return j;
  }
  if (j.new_error_rate > policy.max_error_rate) {
    j.verdict = Verdict::kFail;
    j.reason = absl::StrFormat("new replica's error rate %.4f is above the limit %.4f",
                               j.new_error_rate, policy.max_error_rate);
    return j;
  }
  j.verdict = Verdict::kPass;
  j.reason = absl::StrFormat("new replica's error rate %.4f within the limit %.4f",
                             j.new_error_rate, policy.max_error_rate);
  return j;
}

Judgement JudgeCanary(const ReplicaSamples& old_replica, const ReplicaSamples& new_replica,
                      const SwitchoverSpec& policy) {
  Judgement j;
  j.old_samples = static_cast<int>(old_replica.latencies.size());
  j.new_samples = static_cast<int>(new_replica.latencies.size());
  j.old_error_rate = Rate(old_replica);
  j.new_error_rate = Rate(new_replica);
  j.old_latency_mean = Mean(old_replica.latencies);
  j.new_latency_mean = Mean(new_replica.latencies);
  if (j.old_samples < policy.min_samples || j.new_samples < policy.min_samples) {
    j.verdict = Verdict::kInconclusive;
    j.reason = absl::StrFormat("too few samples with traffic: old %d, new %d (need %d each)",
                               j.old_samples, j.new_samples, policy.min_samples);
    return j;
  }
  double alpha = 1 - policy.confidence;
  j.latency_p_value = MannWhitneyGreater(new_replica.latencies, old_replica.latencies);
  j.error_p_value = MannWhitneyGreater(new_replica.error_rates, old_replica.error_rates);
  double old_variance = Variance(old_replica.latencies);
  double new_variance = Variance(new_replica.latencies);
  j.variance_ratio = old_variance > 0 ? new_variance / old_variance : (new_variance > 0 ? 1e9 : 1);

  std::vector<std::string> failures;
  if (j.new_error_rate > policy.max_error_rate) {
    failures.push_back(absl::StrFormat("error rate %.4f above the limit %.4f", j.new_error_rate,
                                       policy.max_error_rate));
  } else if (j.new_error_rate - j.old_error_rate > policy.max_error_rate_increase &&
             j.error_p_value < alpha) {
    failures.push_back(absl::StrFormat("error rate %.4f vs %.4f on the old replica (p=%.4f)",
                                       j.new_error_rate, j.old_error_rate, j.error_p_value));
  }
  double allowed = std::max(kLatencyFloorSeconds, policy.max_latency_increase * j.old_latency_mean);
  if (j.new_latency_mean - j.old_latency_mean > allowed && j.latency_p_value < alpha) {
    failures.push_back(absl::StrFormat("mean latency %.4fs vs %.4fs on the old replica (p=%.4f)",
                                       j.new_latency_mean, j.old_latency_mean, j.latency_p_value));
  }
  double spread_increase = std::sqrt(new_variance) - std::sqrt(old_variance);
  if (j.variance_ratio > policy.max_variance_ratio && spread_increase > kLatencyFloorSeconds) {
    failures.push_back(absl::StrFormat("latency variance %.1fx the old replica's (limit %.1fx)",
                                       j.variance_ratio, policy.max_variance_ratio));
  }
  if (!failures.empty()) {
    j.verdict = Verdict::kFail;
    j.reason = "new replica worse: " + failures.front();
    for (size_t i = 1; i < failures.size(); ++i) {
      j.reason += "; " + failures[i];
    }
    return j;
  }
  j.verdict = Verdict::kPass;
  j.reason = absl::StrFormat(
      "no worse: error rate %.4f vs %.4f, mean latency %.4fs vs %.4fs (p=%.3f), variance "
      "ratio %.2f",
      j.new_error_rate, j.old_error_rate, j.new_latency_mean, j.old_latency_mean, j.latency_p_value,
      j.variance_ratio);
  return j;
}

}  // namespace shadowfleet

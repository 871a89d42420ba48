// The canary judge: is the new replica doing worse than the old one over the same time
// window? Each replica contributes one sample per sampling interval (its error rate and mean
// latency over that interval). The judge compares the two sets the way Spinnaker's Kayenta
// does, with a one-sided Mann-Whitney U test at a configurable confidence, plus absolute
// limits, and with the guards its users asked for: too few samples is inconclusive, never a
// pass, and a rise in latency variance counts against the new replica.
//
// Pure functions; no I/O.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shadowfleet/spec/fleet_spec.h"

namespace shadowfleet {

// One replica's samples over a judgement window.
struct ReplicaSamples {
  std::vector<double> error_rates;  // Per interval: errors / requests.
  std::vector<double> latencies;    // Per interval: mean latency, seconds.
  int64_t requests = 0;             // Over the window.
  int64_t errors = 0;
};

enum class Verdict { kPass, kFail, kInconclusive };
const char* VerdictName(Verdict verdict);

struct Judgement {
  Verdict verdict = Verdict::kInconclusive;
  std::string reason;  // Plain words, with the numbers that decided it.
  int old_samples = 0;
  int new_samples = 0;
  double old_error_rate = 0;
  double new_error_rate = 0;
  double old_latency_mean = 0;
  double new_latency_mean = 0;
  double latency_p_value = 1;  // One-sided: new latencies higher than old.
  double error_p_value = 1;    // One-sided: new error rates higher than old.
  double variance_ratio = 1;   // Latency variance, new over old.

  nlohmann::json ToJson() const;
};

Judgement JudgeCanary(const ReplicaSamples& old_replica, const ReplicaSamples& new_replica,
                      const SwitchoverSpec& policy);

// Judges the new replica alone (bake time, blue/green at full weight): only its absolute
// limits apply.
Judgement JudgeAlone(const ReplicaSamples& new_replica, const SwitchoverSpec& policy);

// The p-value of a one-sided Mann-Whitney U test that `x` tends to be larger than `y`
// (normal approximation with tie correction and continuity correction). 1 when either set
// is empty or all values are equal.
double MannWhitneyGreater(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace shadowfleet

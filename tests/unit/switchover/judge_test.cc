// The canary judge: decisions on known samples, the Mann-Whitney U test against values worked
// by hand, and the guards (too few samples is inconclusive; a rise in variance fails).
#include "shadowfleet/switchover/judge.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

namespace shadowfleet {
namespace {

ReplicaSamples Samples(int n, double error_rate, double latency, double jitter, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, jitter);
  ReplicaSamples s;
  for (int i = 0; i < n; ++i) {
    s.latencies.push_back(std::max(0.0, latency + noise(rng)));
    s.error_rates.push_back(error_rate);
    s.requests += 100;
    s.errors += static_cast<int64_t>(100 * error_rate);
  }
  return s;
}

SwitchoverSpec Policy() {
  SwitchoverSpec p;
  p.min_samples = 10;
  return p;
}

TEST(MannWhitney, MatchesAHandWorkedExample) {
  // x = {4, 5, 6}, y = {1, 2, 3}: every x beats every y, U = 9; with n1 = n2 = 3 the normal
  // approximation with continuity correction gives z = (9 - 4.5 - 0.5) / sqrt(5.25) = 1.7457.
  double p = MannWhitneyGreater({4, 5, 6}, {1, 2, 3});
  EXPECT_NEAR(p, 0.5 * std::erfc(1.7457431 / std::sqrt(2.0)), 1e-6);
  // The other direction is not significant at all.
  EXPECT_GT(MannWhitneyGreater({1, 2, 3}, {4, 5, 6}), 0.9);
  // Ties everywhere: no evidence either way.
  EXPECT_EQ(MannWhitneyGreater({1, 1, 1}, {1, 1, 1}), 1);
  EXPECT_EQ(MannWhitneyGreater({}, {1}), 1);
}

TEST(CanaryJudge, PassesANewReplicaThatIsNoWorse) {
  Judgement j = JudgeCanary(Samples(30, 0.001, 0.050, 0.005, 1),
                            Samples(30, 0.001, 0.050, 0.005, 2), Policy());
  EXPECT_EQ(j.verdict, Verdict::kPass) << j.reason;
  EXPECT_EQ(j.new_samples, 30);
}

TEST(CanaryJudge, FailsOnAnErrorRateAboveTheLimit) {
  Judgement j =
      JudgeCanary(Samples(30, 0.0, 0.05, 0.005, 1), Samples(30, 0.2, 0.05, 0.005, 2), Policy());
  EXPECT_EQ(j.verdict, Verdict::kFail);
  EXPECT_THAT(j.reason, ::testing::HasSubstr("error rate"));
  EXPECT_NEAR(j.new_error_rate, 0.2, 1e-9);
}

TEST(CanaryJudge, FailsOnASignificantlyHigherLatency) {
  Judgement j =
      JudgeCanary(Samples(30, 0, 0.050, 0.004, 1), Samples(30, 0, 0.080, 0.004, 2), Policy());
  EXPECT_EQ(j.verdict, Verdict::kFail);
  EXPECT_THAT(j.reason, ::testing::HasSubstr("latency"));
  EXPECT_LT(j.latency_p_value, 0.05);
}

TEST(CanaryJudge, IgnoresLatencyDifferencesBelowTheAllowedIncrease) {
  // 5 % slower, consistently: significant, but inside the 25 % allowed.
  Judgement j =
      JudgeCanary(Samples(30, 0, 0.100, 0.001, 1), Samples(30, 0, 0.105, 0.001, 2), Policy());
  EXPECT_EQ(j.verdict, Verdict::kPass) << j.reason;
}

TEST(CanaryJudge, CountsARiseInVarianceAgainstTheNewReplica) {
  // Same mean latency, ten times the spread.
  Judgement j =
      JudgeCanary(Samples(40, 0, 0.050, 0.002, 1), Samples(40, 0, 0.050, 0.020, 2), Policy());
  EXPECT_EQ(j.verdict, Verdict::kFail);
  EXPECT_THAT(j.reason, ::testing::HasSubstr("variance"));
  EXPECT_GT(j.variance_ratio, 4);
}

TEST(CanaryJudge, TooFewSamplesIsInconclusiveNeverAPass) {
  Judgement j =
      JudgeCanary(Samples(30, 0, 0.05, 0.001, 1), Samples(5, 0, 0.05, 0.001, 2), Policy());
  EXPECT_EQ(j.verdict, Verdict::kInconclusive);
  EXPECT_THAT(j.reason, ::testing::HasSubstr("too few samples"));
  // Even an obviously broken new replica is not judged on too little evidence.
  Judgement broken =
      JudgeCanary(Samples(30, 0, 0.05, 0.001, 1), Samples(3, 0.5, 0.05, 0.001, 2), Policy());
  EXPECT_EQ(broken.verdict, Verdict::kInconclusive);
}

TEST(CanaryJudge, JudgesTheNewReplicaAloneOnItsAbsoluteLimits) {
  EXPECT_EQ(JudgeAlone(Samples(20, 0.0, 0.05, 0.001, 1), Policy()).verdict, Verdict::kPass);
  EXPECT_EQ(JudgeAlone(Samples(20, 0.3, 0.05, 0.001, 1), Policy()).verdict, Verdict::kFail);
  EXPECT_EQ(JudgeAlone(Samples(2, 0.0, 0.05, 0.001, 1), Policy()).verdict, Verdict::kInconclusive);
}

}  // namespace
}  // namespace shadowfleet

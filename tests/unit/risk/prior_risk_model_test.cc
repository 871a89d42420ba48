// The risk prior on simulated instances fed through a real SignalTracker: healthy instances
// score near zero and almost never cross the switchover threshold, while each kind of
// degradation crosses it well before the instance fails. Also the hazard arithmetic itself.
#include "shadowfleet/prediction/prior_risk_model.h"

#include <gtest/gtest.h>

#include <cmath>

#include "simulated_instance.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::Degradation;
using ::shadowfleet::testing::SimulatedInstance;
using ::shadowfleet::testing::SimulatedInstanceOptions;

constexpr double kRefresh = 0.7;  // The default switchover threshold (spec: riskThreshold).

struct SimulatedRun {
  double max_healthy_risk = 0;  // Before the degradation started.
  double first_refresh = -1;    // Seconds since the start when risk first reached 0.7.
  double failed_at = -1;        // When a resource ran out.
  int refresh_episodes = 0;     // Separate stretches at or above 0.7.
  RiskAssessment at_refresh;
  RiskAssessment at_max_healthy;
  double healthy_sum = 0;
  int healthy_scores = 0;
};

// Runs one instance for `hours`, scoring it every minute with the prior.
SimulatedRun Simulate(SimulatedInstanceOptions options, double hours) {
  SignalTracker tracker;
  SimulatedInstance instance(options);
  PriorRiskModel prior;
  SimulatedRun run;
  bool above = false;
  for (double t = 0; t < hours * 3600; t += SimulatedInstance::kStep) {
    if (!instance.Step(t, tracker)) {
      run.failed_at = t;
      break;
    }
    if (std::fmod(t, 60) != 0) {
      continue;
    }
    InstanceSignals signals = tracker.Snapshot(instance.id());
    signals.age_hours = t / 3600;
    RiskAssessment a = prior.Assess(signals);
    if (t < options.degrade_after_seconds) {
      run.healthy_sum += a.probability;
      ++run.healthy_scores;
      if (a.probability > run.max_healthy_risk) {
        run.max_healthy_risk = a.probability;
        run.at_max_healthy = a;
      }
    }
    if (a.probability >= kRefresh && !above) {
      ++run.refresh_episodes;
      if (run.first_refresh < 0) {
        run.first_refresh = t;
        run.at_refresh = a;
      }
    }
    above = a.probability >= kRefresh;
  }
  return run;
}

std::string Factors(const RiskAssessment& a) {
  std::string out;
  for (const RiskFactor& f : a.top_factors) {
    out += f.name + ": " + f.description + "; ";
  }
  return out;
}

TEST(PriorRiskModel, HealthyInstanceScoresNearZero) {
  InstanceSignals healthy;
  healthy.age_hours = 24 * 30;
  healthy.features["memory_used_ratio"] = {.value = 0.5, .samples = 1000};
  healthy.features["error_rate"] = {.value = 0.001, .samples = 1000};
  healthy.features["up"] = {.value = 1, .samples = 1000};
  RiskAssessment a = PriorRiskModel().Assess(healthy);
  EXPECT_LT(a.probability, 1e-3);
  EXPECT_EQ(a.model_version, "prior-1");
  EXPECT_EQ(a.horizon, absl::Minutes(30));
}

TEST(PriorRiskModel, OrdersHealthyBelowLeakingMemory) {
  InstanceSignals healthy;
  healthy.features["memory_used_ratio"] = {.value = 0.5};
  InstanceSignals leaking = healthy;
  leaking.features["memory_used_ratio"] = {
      .value = 0.8, .exhaustion_seconds = 40 * 60, .samples = 120};
  PriorRiskModel prior;
  double p_healthy = prior.Assess(healthy).probability;
  double p_leaking = prior.Assess(leaking).probability;
  EXPECT_LT(p_healthy, 0.01);
  EXPECT_GT(p_leaking, kRefresh);
  ASSERT_FALSE(prior.Assess(leaking).top_factors.empty());
  EXPECT_EQ(prior.Assess(leaking).top_factors[0].description,
            "memory will be exhausted in about 40 minutes");
}

TEST(PriorRiskModel, ExhaustionTermFollowsItsFormula) {
  PriorRiskModel prior;
  for (double t_over_h : {0.5, 1.0, 2.0, 4.0}) {
    InstanceSignals s;
    s.features["disk_used_ratio"] = {
        .value = 0.9, .exhaustion_seconds = t_over_h * 1800, .samples = 120};
    double expected = 2.3 / (t_over_h * t_over_h);
    double base = PriorRiskModel::AgeHazardPerHour(0) * 0.5;
    EXPECT_NEAR(prior.Assess(s).probability, 1 - std::exp(-(expected + base)), 1e-9) << t_over_h;
  }
}

TEST(PriorRiskModel, NoSingleWeakSignCrossesTheThreshold) {
  PriorRiskModel prior;
  InstanceSignals s;
  s.features["up"] = {.value = 0, .anomaly = 1, .anomaly_recent_max = 1};
  s.features["cpu_utilisation"] = {.value = 0.9, .anomaly_recent_max = 0.9};
  s.vulnerabilities.push_back({"CVE-2024-0001", "openssl", "3.0.2", 9.8});
  RiskAssessment a = prior.Assess(s);
  EXPECT_LT(a.probability, kRefresh) << Factors(a);
  EXPECT_GT(a.probability, 0.3) << Factors(a);

  InstanceSignals errors;
  errors.features["error_rate"] = {.value = 0.10};
  EXPECT_GT(prior.Assess(errors).probability, kRefresh);
  errors.features["error_rate"] = {.value = 0.01};
  EXPECT_LT(prior.Assess(errors).probability, 0.05);
}

TEST(PriorRiskModel, FactorsShareTheProbabilityLargestFirst) {
  InstanceSignals s;
  s.features["memory_used_ratio"] = {.value = 0.9, .exhaustion_seconds = 1800, .samples = 120};
  s.features["error_rate"] = {.value = 0.04};
  s.restarts_recent = 1;
  RiskAssessment a = PriorRiskModel().Assess(s);
  double sum = 0;
  for (size_t i = 0; i < a.top_factors.size(); ++i) {
    sum += a.top_factors[i].contribution;
    if (i > 0) {
      EXPECT_GE(a.top_factors[i - 1].contribution, a.top_factors[i].contribution);
    }
  }
  EXPECT_NEAR(sum, a.probability, 1e-9);
  EXPECT_EQ(a.top_factors[0].name, "memory_used_ratio.exhaustion_hours");
  EXPECT_EQ(a.top_factors[1].description, "error rate 4.0 %");
}

TEST(PriorRiskModel, AgeHazardIsTheLanlBandRate) {
  EXPECT_NEAR(PriorRiskModel::AgeHazardPerHour(24), 1.124 / 8766, 1e-9);
  EXPECT_NEAR(PriorRiskModel::AgeHazardPerHour(24 * 60), 1.522 / 8766, 1e-9);
  EXPECT_NEAR(PriorRiskModel::AgeHazardPerHour(24 * 365 * 5), 0.731 / 8766, 1e-9);
}

TEST(PriorRiskModel, MemoryLeakCrossesTheThresholdLongBeforeOutOfMemory) {
  SimulatedRun run = Simulate({.seed = 2, .degradation = Degradation::kMemoryLeak}, 8);
  ASSERT_GT(run.failed_at, 0);
  ASSERT_GT(run.first_refresh, 0);
  EXPECT_LT(run.max_healthy_risk, 0.3) << Factors(run.at_max_healthy);
  EXPECT_LT(run.first_refresh, run.failed_at - 10 * 60) << Factors(run.at_refresh);
  EXPECT_EQ(run.at_refresh.top_factors[0].name, "memory_used_ratio.exhaustion_hours");
}

TEST(PriorRiskModel, DiskFillCrossesTheThresholdBeforeTheDiskIsFull) {
  SimulatedRun run = Simulate({.seed = 3, .degradation = Degradation::kDiskFill}, 10);
  EXPECT_LT(run.max_healthy_risk, 0.3) << Factors(run.at_max_healthy);
  ASSERT_GT(run.failed_at, 0);
  ASSERT_GT(run.first_refresh, 0);
  EXPECT_LT(run.first_refresh, run.failed_at - 10 * 60) << Factors(run.at_refresh);
}

TEST(PriorRiskModel, ClimbingLatencyCrossesTheThresholdBeforeHealthChecksFail) {
  SimulatedRun run =
      Simulate({.seed = 4, .degradation = Degradation::kLatencyCreep, .latency_limit = 2.0}, 12);
  ASSERT_GT(run.failed_at, 0);
  ASSERT_GT(run.first_refresh, 0);
  EXPECT_LT(run.first_refresh, run.failed_at - 10 * 60) << Factors(run.at_refresh);
}

TEST(PriorRiskModel, GrowingErrorBurstsCrossTheThreshold) {
  SimulatedRun run = Simulate({.seed = 5, .degradation = Degradation::kErrorBursts}, 7);
  EXPECT_LT(run.max_healthy_risk, 0.3) << Factors(run.at_max_healthy);
  ASSERT_GT(run.first_refresh, 0);
  // The bursts reach a 10 % error rate about 20 minutes in.
  EXPECT_LT(run.first_refresh, 6 * 3600 + 25 * 60) << Factors(run.at_refresh);
  EXPECT_EQ(run.at_refresh.top_factors[0].name, "error_rate.value");
}

TEST(PriorRiskModel, HealthyFleetRaisesAtMostOneFalseAlarmPerHundredInstanceHours) {
  // 10 instances x 12 hours, scored every minute.
  int episodes = 0;
  double worst = 0;
  double healthy_sum = 0;
  int healthy_scores = 0;
  for (uint64_t seed = 10; seed < 20; ++seed) {
    SimulatedRun run = Simulate({.id = "web-" + std::to_string(seed), .seed = seed}, 12);
    episodes += run.refresh_episodes;
    worst = std::max(worst, run.max_healthy_risk);
    healthy_sum += run.healthy_sum;
    healthy_scores += run.healthy_scores;
  }
  EXPECT_LE(episodes, 1);
  EXPECT_LT(worst, 0.3);  // Not even "watch".
  EXPECT_LT(healthy_sum / healthy_scores, 0.01);
}

}  // namespace
}  // namespace shadowfleet

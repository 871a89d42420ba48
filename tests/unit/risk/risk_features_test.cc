// The risk feature vector: fixed order and names, missing metrics as NaN, the round trip back
// to signals that lets the prior score stored vectors, and the plain-word descriptions.
#include "shadowfleet/prediction/risk_features.h"

#include <gtest/gtest.h>

#include <cmath>

#include "shadowfleet/prediction/prior_risk_model.h"

namespace shadowfleet {
namespace {

InstanceSignals Example() {
  InstanceSignals s;
  s.instance_id = "web-1";
  s.age_hours = 50;
  s.restarts_recent = 2;
  s.features["memory_used_ratio"] = {.value = 0.81,
                                     .anomaly = 0.1,
                                     .anomaly_recent_max = 0.9,
                                     .forecast_z = 3.5,
                                     .trend_per_hour = 0.3,
                                     .exhaustion_seconds = 40 * 60,
                                     .samples = 120};
  s.features["error_rate"] = {.value = 0.12, .anomaly_recent_max = 0.5, .samples = 120};
  s.features["something_else"] = {.value = 1, .anomaly_recent_max = 0.95};
  s.vulnerabilities.push_back({"CVE-2024-1", "openssl", "3.0.2", 7.5});
  s.vulnerabilities.push_back({"CVE-2024-2", "curl", "7.88.1", 9.8});
  return s;
}

TEST(RiskFeatures, NamesAreStableAndOrdered) {
  RiskFeatures f({"memory_used_ratio", "error_rate"});
  ASSERT_EQ(f.size(), 2u * 6 + 5);
  EXPECT_EQ(f.names()[0], "memory_used_ratio.value");
  EXPECT_EQ(f.names()[5], "memory_used_ratio.exhaustion_hours");
  EXPECT_EQ(f.names()[6], "error_rate.value");
  EXPECT_EQ(f.names()[12], "age_hours");
  EXPECT_EQ(f.names()[16], "vulnerability_count");
  EXPECT_EQ(f.metric(7), "error_rate");
  EXPECT_EQ(f.metric(13), "");
  EXPECT_EQ(RiskFeatures().metrics().size(), 8u);
}

TEST(RiskFeatures, ExtractsValuesAndMarksMissingMetrics) {
  RiskFeatures f({"memory_used_ratio", "disk_used_ratio", "error_rate"});
  std::vector<float> row = f.Extract(Example());
  EXPECT_FLOAT_EQ(row[0], 0.81f);
  EXPECT_FLOAT_EQ(row[5], 40.0f / 60);            // Hours to exhaustion.
  EXPECT_TRUE(std::isnan(row[6]));                // No disk metric.
  EXPECT_FLOAT_EQ(row[17], kExhaustionCapHours);  // Error rate is not heading for a limit.
  EXPECT_FLOAT_EQ(row[18], 50);                   // age_hours
  EXPECT_FLOAT_EQ(row[19], 2);                    // restarts_recent
  // anomalous_metrics counts every signal: memory, error rate and something_else.
  EXPECT_FLOAT_EQ(row[20], 3);
  EXPECT_FLOAT_EQ(row[21], 9.8f);
  EXPECT_FLOAT_EQ(row[22], 2);
}

TEST(RiskFeatures, RoundTripKeepsWhatThePriorNeeds) {
  RiskFeatures f({"memory_used_ratio", "error_rate"});
  InstanceSignals original = Example();
  original.features.erase("something_else");
  InstanceSignals back = f.ToSignals(f.Extract(original));
  EXPECT_FLOAT_EQ(back.features["memory_used_ratio"].exhaustion_seconds, 40 * 60);
  EXPECT_TRUE(std::isinf(back.features["error_rate"].exhaustion_seconds));
  PriorRiskModel prior;
  EXPECT_NEAR(prior.Assess(back).probability, prior.Assess(original).probability, 1e-6);
}

TEST(RiskFeatures, DescribesFeaturesInPlainWords) {
  RiskFeatures f({"memory_used_ratio", "error_rate", "network_latency_seconds", "up"});
  InstanceSignals s = Example();
  s.features["network_latency_seconds"] = {.value = 0.25, .trend_per_hour = 0.1};
  s.features["up"] = {.value = 0};
  std::vector<float> row = f.Extract(s);
  auto describe = [&](const std::string& name) {
    for (size_t i = 0; i < f.size(); ++i) {
      if (f.names()[i] == name) {
        return f.Describe(i, row, &s);
      }
    }
    return std::string("no such feature");
  };
  EXPECT_EQ(describe("memory_used_ratio.exhaustion_hours"),
            "memory will be exhausted in about 40 minutes");
  EXPECT_EQ(describe("memory_used_ratio.value"), "memory 81 % (anomalous)");
  EXPECT_EQ(describe("error_rate.value"), "error rate 12 % (anomalous)");
  EXPECT_EQ(describe("network_latency_seconds.trend_per_hour"), "latency rising 100 ms per hour");
  EXPECT_EQ(describe("up.value"), "scrapes failing (up = 0)");
  EXPECT_EQ(describe("restarts_recent"), "2 health losses recently");
  EXPECT_EQ(describe("age_hours"), "live for about 2 days");
  EXPECT_EQ(describe("vulnerability_max_severity"),
            "curl 7.88.1: CVE-2024-2 (CVSS 9.8) and 1 more known vulnerabilities");
  EXPECT_EQ(f.Describe(f.size() - 2, row), "known vulnerability of severity 9.8 (CVSS)");
}

TEST(RiskWords, DurationsAndUnits) {
  EXPECT_EQ(ApproximateDuration(30), "less than a minute");
  EXPECT_EQ(ApproximateDuration(60), "about 1 minute");
  EXPECT_EQ(ApproximateDuration(3 * 3600), "about 3 hours");
  EXPECT_EQ(ApproximateDuration(3 * 86400), "about 3 days");
  EXPECT_EQ(DescribeExhaustion("disk_used_ratio", 0), "disk is exhausted");
  EXPECT_EQ(FormatMetricValue("network_latency_seconds", 1.5), "1.5 s");
  EXPECT_EQ(FormatMetricValue("queue_length", 12), "12");
  EXPECT_EQ(MetricLabel("queue_length"), "queue length");
}

TEST(RiskFeatures, JsonRoundTripChecksTheNames) {
  RiskFeatures f({"a", "b"});
  absl::StatusOr<RiskFeatures> back = RiskFeatures::FromJson(f.ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->names(), f.names());
  nlohmann::json tampered = f.ToJson();
  tampered["names"][0] = "a.something";
  EXPECT_FALSE(RiskFeatures::FromJson(tampered).ok());
  EXPECT_FALSE(RiskFeatures::FromJson({{"metrics", {1, 2}}}).ok());
}

}  // namespace
}  // namespace shadowfleet

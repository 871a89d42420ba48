// Scenario files: the shipped examples parse (the written-out built-in scenario is the one the
// demo runs without --scenario), mistakes name the file, line and field, and the ground truth
// for lead times follows the workload's own failure rules.
#include "shadowfleet/demo/scenario.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "testing/build_paths.h"

namespace shadowfleet {
namespace {

using ::testing::HasSubstr;

constexpr char kHeader[] = R"(apiVersion: shadowfleet.dev/v1alpha1
kind: Scenario
metadata:
  name: t
)";

absl::StatusOr<Scenario> Parse(const std::string& spec) {
  return ParseScenario(std::string(kHeader) + spec, "s.yaml");
}

TEST(ScenarioTest, EveryShippedExampleParses) {
  int parsed = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(testing::SourceDir() + "/examples/scenarios")) {
    absl::StatusOr<Scenario> s = LoadScenario(entry.path().string());
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_GT(s->instances, 1) << entry.path();
    parsed++;
  }
  EXPECT_GE(parsed, 2);
}

TEST(ScenarioTest, WrittenOutBuiltInScenarioIsTheBuiltInOne) {
  absl::StatusOr<Scenario> file =
      LoadScenario(testing::SourceDir() + "/examples/scenarios/built-in.yaml");
  ASSERT_TRUE(file.ok()) << file.status();
  Scenario built_in = BuiltInScenario();
  EXPECT_EQ(file->instances, built_in.instances);
  EXPECT_EQ(file->duration, built_in.duration);
  EXPECT_EQ(file->request_rate, built_in.request_rate);
  EXPECT_EQ(file->memory_limit_mb, built_in.memory_limit_mb);
  EXPECT_EQ(file->disk_quota_mb, built_in.disk_quota_mb);
  ASSERT_EQ(file->degradations.size(), built_in.degradations.size());
  for (size_t i = 0; i < built_in.degradations.size(); ++i) {
    const DegradationSpec& a = file->degradations[i];
    const DegradationSpec& b = built_in.degradations[i];
    EXPECT_EQ(a.mode, b.mode) << i;
    EXPECT_EQ(a.count, b.count) << a.mode;
    EXPECT_EQ(a.window_start, b.window_start) << a.mode;
    EXPECT_EQ(a.window_end, b.window_end) << a.mode;
    EXPECT_DOUBLE_EQ(ExpectedFailureSeconds(a, *file), ExpectedFailureSeconds(b, built_in))
        << a.mode;
  }
}

TEST(ScenarioTest, ReadsEveryField) {
  absl::StatusOr<Scenario> s = Parse(R"(spec:
  instances: 8
  duration: 5m
  requestRate: 250
  memoryLimitMb: 128
  diskQuotaMb: 32
  degradations:
    - mode: latency_creep
      count: 2
      rate: 10
      ceilingMs: 500
      window: {from: 30s, to: 90s}
)");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->name, "t");
  EXPECT_EQ(s->instances, 8);
  EXPECT_EQ(s->duration, absl::Minutes(5));
  EXPECT_EQ(s->request_rate, 250);
  ASSERT_EQ(s->degradations.size(), 1u);
  const DegradationSpec& g = s->degradations[0];
  EXPECT_EQ(g.count, 2);
  EXPECT_EQ(g.window_start, absl::Seconds(30));
  EXPECT_EQ(g.window_end, absl::Seconds(90));
  EXPECT_DOUBLE_EQ(ExpectedFailureSeconds(g, *s), 50);
}

TEST(ScenarioTest, UnknownModeNamesLineAndField) {
  absl::StatusOr<Scenario> s = Parse(R"(spec:
  degradations:
    - mode: meltdown
)");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("s.yaml:7"));
  EXPECT_THAT(s.status().message(), HasSubstr("spec.degradations[0].mode"));
  EXPECT_THAT(s.status().message(), HasSubstr("meltdown"));
}

TEST(ScenarioTest, UnknownFieldIsAnError) {
  absl::StatusOr<Scenario> s = Parse(R"(spec:
  instances: 4
  replicas: 4
)");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("replicas"));
}

TEST(ScenarioTest, WindowMustFitTheRunAndBeOrdered) {
  absl::StatusOr<Scenario> late = Parse(R"(spec:
  duration: 2m
  degradations:
    - {mode: disk_fill, rate: 1, window: {from: 60s, to: 180s}}
)");
  ASSERT_FALSE(late.ok());
  EXPECT_THAT(late.status().message(), HasSubstr("after the scenario's duration"));

  absl::StatusOr<Scenario> reversed = Parse(R"(spec:
  degradations:
    - {mode: disk_fill, rate: 1, window: {from: 90s, to: 30s}}
)");
  ASSERT_FALSE(reversed.ok());
  EXPECT_THAT(reversed.status().message(), HasSubstr("to must not be before from"));
}

TEST(ScenarioTest, WrongKindIsRejected) {
  absl::StatusOr<Scenario> s =
      ParseScenario("apiVersion: shadowfleet.dev/v1alpha1\nkind: Fleet\nspec: {}\n", "s.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("expected kind Scenario"));
}

TEST(ScenarioTest, ExpectedFailureFollowsTheWorkloadsRules) {
  Scenario s;
  s.memory_limit_mb = 256;
  s.disk_quota_mb = 64;
  DegradationSpec leak{.mode = "memory_leak", .rate = 2};
  EXPECT_DOUBLE_EQ(ExpectedFailureSeconds(leak, s), (256 - 12) / 2.0);
  DegradationSpec disk{.mode = "disk_fill", .rate = 0.5};
  EXPECT_DOUBLE_EQ(ExpectedFailureSeconds(disk, s), 128);
  DegradationSpec crash{.mode = "slow_crash", .seconds = 45};
  EXPECT_DOUBLE_EQ(ExpectedFailureSeconds(crash, s), 45);
  DegradationSpec slow{.mode = "slow", .rate = 100};
  EXPECT_TRUE(std::isinf(ExpectedFailureSeconds(slow, s)));
  EXPECT_FALSE(GivesWarning(DegradationSpec{.mode = "sudden_crash"}));
  EXPECT_TRUE(GivesWarning(leak));
}

}  // namespace
}  // namespace shadowfleet

// The model registry's learning loop on a synthetic fleet whose failures are announced by a
// sign the prior does not know (CPU pinned high for half an hour): the first learnt model beats
// the prior and is promoted, a worse candidate is refused, versions survive a restart, switch-
// outs censor examples, and retraining is triggered by schedule, new failures and drift.
#include "shadowfleet/prediction/model_registry.h"

#include <gtest/gtest.h>

#include <random>

#include "testing/temp_dir.h"

#include "shadowfleet/store/sqlite_store.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::TempDir;

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

std::unique_ptr<SqliteStore> OpenStore(const std::string& path) {
  absl::StatusOr<std::unique_ptr<SqliteStore>> store =
      SqliteStore::Open({.path = path, .synchronous_full = false});
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

ModelRegistryOptions SmallOptions() {
  ModelRegistryOptions o;
  o.metrics = {"cpu_utilisation", "memory_used_ratio"};
  o.min_examples = 100;
  o.min_positives = 5;
  o.training.params.rounds = 40;
  o.training.params.eta = 0.2;
  o.training.folds = 3;
  return o;
}

InstanceSignals Signals(const std::string& id, double cpu, double memory) {
  InstanceSignals s;
  s.instance_id = id;
  s.features["cpu_utilisation"] = {.value = cpu, .samples = 100};
  s.features["memory_used_ratio"] = {.value = memory, .samples = 100};
  return s;
}

// `instances` instances over `hours`, one example a minute. Each fails now and then; in the
// 30 minutes before a failure its CPU sits near 90 % instead of 30 %. `cpu_shift` moves every
// CPU value (drift). Instance 0 is switched out (not failed) once, three hours in.
struct Fleet {
  int instances = 8;
  double hours = 12;
  double cpu_shift = 0;
  absl::Time start = kStart;
  uint64_t seed = 1;
};

void Feed(ModelRegistry& registry, const Fleet& fleet) {
  std::mt19937_64 rng(fleet.seed);
  std::normal_distribution<double> noise(0, 0.03);
  std::exponential_distribution<double> between(1.0 / (2.5 * 60));  // A failure per 2.5 h.
  for (int i = 0; i < fleet.instances; ++i) {
    const std::string id = "web-" + std::to_string(i);
    double next_failure = 40 + between(rng);
    for (int minute = 0; minute < fleet.hours * 60; ++minute) {
      absl::Time at = fleet.start + absl::Minutes(minute);
      if (minute >= next_failure) {
        registry.RecordFailure(id, at, "crash");
        next_failure = minute + 40 + between(rng);
      }
      if (i == 0 && minute == 180) {
        registry.RecordCensored(id, at);
      }
      bool warning = next_failure - minute <= 30;
      double cpu = (warning ? 0.9 : 0.3) + fleet.cpu_shift + noise(rng);
      registry.RecordExample(Signals(id, cpu, 0.5 + noise(rng)), at);
    }
  }
  ASSERT_TRUE(registry.Flush().ok());
}

TEST(ModelRegistry, ServesThePriorUntilAModelIsPromoted) {
  TempDir dir;
  auto store = OpenStore(dir.File("state.db"));
  FakeClock clock(kStart);
  ModelRegistry registry(store.get(), &clock, SmallOptions());
  ASSERT_TRUE(registry.Load().ok());
  EXPECT_EQ(registry.Current()->version(), "prior-1");

  Feed(registry, {});
  // Telemetry's own chunks share the store; the registry reads only its series.
  WriteBatch telemetry;
  telemetry.PutChunk({"web-0/cpu_utilisation", absl::ToUnixMillis(kStart),
                      absl::ToUnixMillis(kStart + absl::Hours(1)), 3, "not risk examples"});
  ASSERT_TRUE(store->Commit(telemetry).ok());
  clock.SetTime(kStart + absl::Hours(12));
  absl::StatusOr<RetrainResult> r = registry.Retrain();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->trained) << r->reason;
  EXPECT_TRUE(r->promoted) << r->reason;
  EXPECT_EQ(r->version, "gbm-000001");
  EXPECT_EQ(r->metrics["incumbent"]["version"], "prior-1");
  EXPECT_LT(r->metrics["candidate"]["brier"].get<double>(),
            r->metrics["incumbent"]["brier"].get<double>());
  EXPECT_EQ(registry.Current()->version(), "gbm-000001");

  // The learnt model explains a warning by the CPU.
  RiskAssessment a = registry.Current()->Assess(Signals("web-1", 0.9, 0.5));
  EXPECT_GT(a.probability, 0.5);
  ASSERT_FALSE(a.top_factors.empty());
  EXPECT_EQ(a.top_factors[0].name, "cpu_utilisation.value");
  EXPECT_EQ(a.top_factors[0].description, "CPU 90 %");
  EXPECT_LT(registry.Current()->Assess(Signals("web-1", 0.3, 0.5)).probability, 0.1);
}

TEST(ModelRegistry, RefusesACandidateWorseThanTheCurrentModel) {
  TempDir dir;
  auto store = OpenStore(dir.File("state.db"));
  FakeClock clock(kStart);
  {
    ModelRegistry first(store.get(), &clock, SmallOptions());
    ASSERT_TRUE(first.Load().ok());
    Feed(first, {});
    clock.SetTime(kStart + absl::Hours(12));
    ASSERT_TRUE(first.Retrain()->promoted);
  }

  // A registry whose training is crippled: one tiny round, no calibration, so every
  // probability stays near 0.5.
  ModelRegistryOptions weak = SmallOptions();
  weak.training.params.rounds = 1;
  weak.training.params.eta = 0.01;
  weak.training.calibration = CalibrationMethod::kNone;
  ModelRegistry second(store.get(), &clock, weak);
  ASSERT_TRUE(second.Load().ok());
  EXPECT_EQ(second.Current()->version(), "gbm-000001");
  absl::StatusOr<RetrainResult> r = second.Retrain();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->trained);
  EXPECT_FALSE(r->promoted) << r->reason;
  EXPECT_EQ(r->metrics["incumbent"]["version"], "gbm-000001");
  EXPECT_EQ(second.Current()->version(), "gbm-000001");

  absl::StatusOr<std::vector<ModelVersionInfo>> versions = second.Versions();
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_TRUE((*versions)[0].promoted);
  EXPECT_TRUE((*versions)[0].current);
  EXPECT_FALSE((*versions)[1].promoted);
  EXPECT_FALSE((*versions)[1].current);
  EXPECT_NE((*versions)[1].reason.find("worse than"), std::string::npos);

  // A restarted daemon serves the promoted version.
  ModelRegistry restarted(store.get(), &clock, SmallOptions());
  ASSERT_TRUE(restarted.Load().ok());
  EXPECT_EQ(restarted.Current()->version(), "gbm-000001");
}

TEST(ModelRegistry, SwitchedOutInstanceExamplesAreCensored) {
  TempDir dir;
  auto store = OpenStore(dir.File("state.db"));
  FakeClock clock(kStart);
  ModelRegistry registry(store.get(), &clock, SmallOptions());
  ASSERT_TRUE(registry.Load().ok());
  // Three instances for six hours without a failure; web-0 is switched out at minute 180.
  for (int i = 0; i < 3; ++i) {
    for (int minute = 0; minute < 360; ++minute) {
      std::string id = "web-" + std::to_string(i);
      if (i == 0 && minute == 180) {
        registry.RecordCensored(id, kStart + absl::Minutes(minute));
      }
      registry.RecordExample(Signals(id, 0.3, 0.5), kStart + absl::Minutes(minute));
    }
  }
  clock.SetTime(kStart + absl::Minutes(360));
  absl::StatusOr<RetrainResult> r = registry.Retrain();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->trained);
  // Web-0's examples at minutes 151-179 (their horizon reaches past the switch-out) and every
  // instance's at 331-359 (the data ends before their horizon does) are neither positive nor
  // negative.
  EXPECT_EQ(r->metrics["labelled"]["censored"], 29 + 3 * 29);
  EXPECT_EQ(r->metrics["labelled"]["examples"], 3 * 360 - 4 * 29);
  EXPECT_EQ(r->metrics["labelled"]["positives"], 0);
  EXPECT_EQ(registry.stats().switch_outs, 1);
}

TEST(ModelRegistry, KeepsOneExamplePerInterval) {
  TempDir dir;
  auto store = OpenStore(dir.File("state.db"));
  FakeClock clock(kStart);
  ModelRegistry registry(store.get(), &clock, SmallOptions());
  registry.RecordExample(Signals("web-0", 0.3, 0.5), kStart);
  registry.RecordExample(Signals("web-0", 0.3, 0.5), kStart + absl::Seconds(20));
  registry.RecordExample(Signals("web-0", 0.3, 0.5), kStart + absl::Seconds(60));
  registry.RecordExample(Signals("web-1", 0.3, 0.5), kStart + absl::Seconds(20));
  EXPECT_EQ(registry.stats().examples, 3);
  EXPECT_EQ(registry.stats().examples_too_soon, 1);
  EXPECT_EQ(registry.stats().write_errors, 0);
}

TEST(ModelRegistry, RetrainsOnNewFailuresOnScheduleAndOnDrift) {
  TempDir dir;
  auto store = OpenStore(dir.File("state.db"));
  FakeClock clock(kStart);
  ModelRegistryOptions options = SmallOptions();
  options.check_interval = absl::Hours(1);
  options.retrain_interval = absl::Hours(48);
  options.drift_window = absl::Hours(6);
  ModelRegistry registry(store.get(), &clock, options);
  ASSERT_TRUE(registry.Load().ok());
  EXPECT_EQ(registry.RetrainIfDue()->trigger, "");

  // Under the prior, new failures trigger a training at the next check.
  Feed(registry, {});
  clock.SetTime(kStart + absl::Hours(12));
  absl::StatusOr<RetrainResult> r = registry.RetrainIfDue();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->trigger, "failures");
  EXPECT_TRUE(r->promoted) << r->reason;
  EXPECT_EQ(registry.RetrainIfDue()->trigger, "");  // Checked a moment ago.

  // Same behaviour an hour later: no drift.
  Feed(registry, {.hours = 6, .start = kStart + absl::Hours(12), .seed = 2});
  clock.SetTime(kStart + absl::Hours(18));
  r = registry.RetrainIfDue();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->trigger, "");
  EXPECT_LT(r->drift, 0.2);

  // CPU 40 points higher everywhere: drift.
  Feed(registry, {.hours = 6, .cpu_shift = 0.4, .start = kStart + absl::Hours(18), .seed = 3});
  clock.SetTime(kStart + absl::Hours(24));
  r = registry.RetrainIfDue();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->trigger, "drift");
  EXPECT_GT(r->drift, 0.2);
  EXPECT_EQ(r->drift_feature, "cpu_utilisation.value");
  EXPECT_TRUE(r->trained);

  // Two days after the last training: the schedule.
  clock.SetTime(kStart + absl::Hours(24 + 48));
  r = registry.RetrainIfDue();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->trigger, "schedule");
}

}  // namespace
}  // namespace shadowfleet

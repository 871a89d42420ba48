// Labelling with censoring, and the calibrated classifier trained on labelled examples.
#include "shadowfleet/prediction/risk_training.h"

#include <gtest/gtest.h>

#include <random>

namespace shadowfleet {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);
const absl::Duration kHorizon = absl::Minutes(30);

absl::Time Minute(int m) {
  return kT0 + absl::Minutes(m);
}

TEST(LabelExample, CensorsWhatTheSwitchOutHidAndWhatTheDataHasNotShownYet) {
  InstanceHistory history;
  history["failed"] = {{InstanceEvent::Type::kFailure, Minute(60), "crash"}};
  history["switched"] = {{InstanceEvent::Type::kSwitchedOut, Minute(50), ""}};
  const absl::Time end = Minute(100);
  auto label = [&](const char* instance, int minute) {
    return LabelExample(instance, Minute(minute), kHorizon, history, end);
  };

  // A failure at 60: examples from 30 to 59 are positive, earlier ones negative.
  EXPECT_EQ(label("failed", 29), ExampleLabel::kNegative);
  EXPECT_EQ(label("failed", 30), ExampleLabel::kPositive);
  EXPECT_EQ(label("failed", 59), ExampleLabel::kPositive);
  // After the failure the instance runs on a new replica, judged by what follows.
  EXPECT_EQ(label("failed", 60), ExampleLabel::kNegative);
  EXPECT_EQ(label("failed", 70), ExampleLabel::kNegative);
  EXPECT_EQ(label("failed", 71), ExampleLabel::kCensored);  // 71 + 30 > 100: not known yet.

  // Switched out at 50 without failing: examples whose horizon reaches past 50 are censored.
  EXPECT_EQ(label("switched", 20), ExampleLabel::kNegative);
  EXPECT_EQ(label("switched", 21), ExampleLabel::kCensored);
  EXPECT_EQ(label("switched", 49), ExampleLabel::kCensored);
  EXPECT_EQ(label("switched", 50), ExampleLabel::kNegative);

  // An instance with no events: negative until the data runs out.
  EXPECT_EQ(label("quiet", 70), ExampleLabel::kNegative);
  EXPECT_EQ(label("quiet", 90), ExampleLabel::kCensored);
}

TEST(LabelExamples, LeavesCensoredExamplesOutAndCountsThem) {
  InstanceHistory history;
  history["a"] = {{InstanceEvent::Type::kSwitchedOut, Minute(50), ""}};
  std::vector<RiskExample> examples;
  for (int m = 0; m < 60; ++m) {
    examples.push_back({"a", Minute(m), {static_cast<float>(m)}});
  }
  examples.push_back({"a", Minute(5), {1.0f, 2.0f}});  // Wrong feature count: skipped.
  LabelledSet set = LabelExamples(examples, 1, kHorizon, history, Minute(200));
  EXPECT_EQ(set.censored, 29);  // Minutes 21 to 49.
  EXPECT_EQ(set.size(), 60u - 29u);
  EXPECT_EQ(set.positives(), 0u);
}

TEST(TrainRiskClassifier, LearnsAndCalibratesOutOfFold) {
  // Six instances; the label is 1 when the first feature exceeds 0.8 (10 % of examples).
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<float> u(0, 1);
  LabelledSet set;
  set.x = DenseMatrix(2);
  for (int i = 0; i < 1200; ++i) {
    float a = u(rng);
    set.x.AddRow({a, u(rng)});
    set.y.push_back(a > 0.8f ? 1.0f : 0.0f);
    set.at.push_back(Minute(i));
    set.instance.push_back("i" + std::to_string(i % 6));
  }
  RiskTrainingOptions options;
  options.params.rounds = 50;
  absl::StatusOr<TrainedRiskClassifier> trained = TrainRiskClassifier(set, options);
  ASSERT_TRUE(trained.ok()) << trained.status();
  EXPECT_EQ(trained->metrics["instances"], 6);
  EXPECT_LT(trained->metrics["oof"]["brier"].get<double>(), 0.04);  // Base rate: 0.16.
  DenseMatrix probe(2);
  probe.AddRow({0.95f, 0.5f});
  probe.AddRow({0.2f, 0.5f});
  std::vector<float> p = *trained->gbm.Predict(probe);
  EXPECT_GT(trained->calibration.Apply(p[0]), 0.9);
  EXPECT_LT(trained->calibration.Apply(p[1]), 0.05);

  LabelledSet negatives = set;
  std::fill(negatives.y.begin(), negatives.y.end(), 0.0f);
  EXPECT_EQ(TrainRiskClassifier(negatives, options).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace shadowfleet

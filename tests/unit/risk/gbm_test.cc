// Gbm on small synthetic sets: it learns a simple rule, its contributions add up to the margin,
// it survives a save/load round trip, and bad input is an error rather than a crash.
#include "shadowfleet/prediction/gbm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace shadowfleet {
namespace {

// Two features; the label is 1 exactly when the first exceeds 0.5. The second is noise, and
// every tenth row has its noise feature missing.
void MakeRule(int n, uint64_t seed, DenseMatrix* x, std::vector<float>* y) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  *x = DenseMatrix(2);
  y->clear();
  for (int i = 0; i < n; ++i) {
    float a = u(rng);
    float b = i % 10 == 0 ? std::nanf("") : u(rng);
    x->AddRow({a, b});
    y->push_back(a > 0.5f ? 1.0f : 0.0f);
  }
}

GbmParams SmallParams() {
  GbmParams p;
  p.rounds = 60;
  p.eta = 0.3;
  p.max_depth = 2;
  p.min_child_weight = 1;
  p.subsample = 1.0;
  p.colsample_bytree = 1.0;
  return p;
}

TEST(Gbm, LearnsAThresholdRule) {
  DenseMatrix x;
  std::vector<float> y;
  MakeRule(400, 1, &x, &y);
  absl::StatusOr<Gbm> gbm = Gbm::Train(x, y, SmallParams());
  ASSERT_TRUE(gbm.ok()) << gbm.status();

  DenseMatrix test;
  std::vector<float> truth;
  MakeRule(200, 2, &test, &truth);
  absl::StatusOr<std::vector<float>> p = gbm->Predict(test);
  ASSERT_TRUE(p.ok()) << p.status();
  int right = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    right += ((*p)[i] >= 0.5f) == (truth[i] == 1.0f) ? 1 : 0;
  }
  EXPECT_GE(right, 196);
}

TEST(Gbm, ContributionsSumToTheMarginAndNameTheInformativeFeature) {
  DenseMatrix x;
  std::vector<float> y;
  MakeRule(400, 3, &x, &y);
  absl::StatusOr<Gbm> gbm = Gbm::Train(x, y, SmallParams());
  ASSERT_TRUE(gbm.ok());
  DenseMatrix one(2);
  one.AddRow({0.9f, 0.3f});
  absl::StatusOr<DenseMatrix> c = gbm->Contributions(one);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->cols(), 3u);
  absl::StatusOr<std::vector<float>> p = gbm->Predict(one);
  ASSERT_TRUE(p.ok());
  double margin = c->at(0, 0) + c->at(0, 1) + c->at(0, 2);
  EXPECT_NEAR(1.0 / (1.0 + std::exp(-margin)), (*p)[0], 1e-5);
  EXPECT_GT(c->at(0, 0), 1.0);
  EXPECT_LT(std::fabs(c->at(0, 1)), std::fabs(c->at(0, 0)) / 10);
}

TEST(Gbm, SaveAndLoadGiveTheSamePredictions) {
  DenseMatrix x;
  std::vector<float> y;
  MakeRule(300, 4, &x, &y);
  GbmParams params = SmallParams();
  params.objective = "reg:squarederror";
  absl::StatusOr<Gbm> gbm = Gbm::Train(x, y, params);
  ASSERT_TRUE(gbm.ok());
  absl::StatusOr<std::string> bytes = gbm->Save();
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  absl::StatusOr<Gbm> loaded = Gbm::Load(*bytes, 2);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->num_features(), 2u);
  EXPECT_EQ(*gbm->Predict(x), *loaded->Predict(x));
}

TEST(Gbm, ReportsXgboostErrorsAsStatus) {
  DenseMatrix x;
  std::vector<float> y;
  MakeRule(50, 5, &x, &y);
  GbmParams params = SmallParams();
  params.objective = "no:such-objective";
  absl::StatusOr<Gbm> bad = Gbm::Train(x, y, params);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("xgboost"), std::string::npos) << bad.status();

  EXPECT_EQ(Gbm::Train(x, std::vector<float>(3), SmallParams()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Gbm::Load("not a model").status().code(), absl::StatusCode::kDataLoss);

  absl::StatusOr<Gbm> gbm = Gbm::Train(x, y, SmallParams());
  ASSERT_TRUE(gbm.ok());
  EXPECT_EQ(gbm->Predict(DenseMatrix(3, 3)).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shadowfleet

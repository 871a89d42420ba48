// Calibration maps: Platt and isotonic fits are monotone, improve the Brier score of a
// skewed, over-confident classifier on held-out data, and survive a JSON round trip.
#include "shadowfleet/prediction/calibration.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace shadowfleet {
namespace {

// A classifier whose scores are too extreme: the true probability of a positive is
// sigmoid(z), but it reports sigmoid(3 z + 1). Positives are rare (about 10 %).
void MakeSkewed(int n, uint64_t seed, std::vector<double>* scores, std::vector<double>* labels) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> gauss(-2.5, 1.0);
  std::uniform_real_distribution<double> u(0, 1);
  scores->clear();
  labels->clear();
  for (int i = 0; i < n; ++i) {
    double z = gauss(rng);
    double truth = 1 / (1 + std::exp(-z));
    scores->push_back(1 / (1 + std::exp(-(3 * z + 1))));
    labels->push_back(u(rng) < truth ? 1.0 : 0.0);
  }
}

std::vector<double> ApplyAll(const Calibration& c, const std::vector<double>& scores) {
  std::vector<double> out;
  for (double s : scores) {
    out.push_back(c.Apply(s));
  }
  return out;
}

TEST(Calibration, BothMethodsAreMonotoneAndImproveBrierOnHeldOutData) {
  std::vector<double> fit_scores, fit_labels, test_scores, test_labels;
  MakeSkewed(5000, 1, &fit_scores, &fit_labels);
  MakeSkewed(5000, 2, &test_scores, &test_labels);
  double raw = BrierScore(test_scores, test_labels);
  for (CalibrationMethod method : {CalibrationMethod::kPlatt, CalibrationMethod::kIsotonic}) {
    Calibration c = Calibration::Fit(method, fit_scores, fit_labels);
    EXPECT_EQ(c.method(), method);
    double previous = -1;
    for (double s = 0; s <= 1.0; s += 0.001) {
      double p = c.Apply(s);
      EXPECT_GE(p, previous - 1e-12) << CalibrationMethodName(method) << " at " << s;
      EXPECT_GE(p, 0.0);
      EXPECT_LE(p, 1.0);
      previous = p;
    }
    double calibrated = BrierScore(ApplyAll(c, test_scores), test_labels);
    EXPECT_LT(calibrated, raw * 0.95) << CalibrationMethodName(method);
  }
}

TEST(Calibration, PlattRecoversAKnownMap) {
  // Labels drawn from sigmoid(0.5 logit(s) - 1): the fit should find a = 0.5, b = -1.
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0.001, 0.999);
  std::vector<double> s, y;
  for (int i = 0; i < 40000; ++i) {
    double score = u(rng);
    double p = 1 / (1 + std::exp(-(0.5 * std::log(score / (1 - score)) - 1)));
    s.push_back(score);
    y.push_back(u(rng) < p ? 1 : 0);
  }
  Calibration c = Calibration::FitPlatt(s, y);
  EXPECT_NEAR(c.platt_a(), 0.5, 0.05);
  EXPECT_NEAR(c.platt_b(), -1.0, 0.05);
}

TEST(Calibration, IsotonicPoolsViolatorsIntoTheirMean) {
  // Scores 1..4 with outcomes 0, 1, 0, 1: the middle two violate the order and pool to 0.5.
  Calibration c = Calibration::FitIsotonic({0.1, 0.2, 0.3, 0.4}, {0, 1, 0, 1});
  EXPECT_DOUBLE_EQ(c.Apply(0.1), 0.0);
  EXPECT_DOUBLE_EQ(c.Apply(0.2), 0.5);
  EXPECT_DOUBLE_EQ(c.Apply(0.3), 0.5);
  EXPECT_DOUBLE_EQ(c.Apply(0.4), 1.0);
  EXPECT_DOUBLE_EQ(c.Apply(0.0), 0.0);
  EXPECT_DOUBLE_EQ(c.Apply(0.9), 1.0);
  EXPECT_NEAR(c.Apply(0.15), 0.25, 1e-12);
}

TEST(Calibration, SeparableDataGivesAFiniteSteepPlattMap) {
  Calibration c = Calibration::FitPlatt({0.1, 0.2, 0.8, 0.9}, {0, 0, 1, 1});
  EXPECT_TRUE(std::isfinite(c.platt_a()));
  EXPECT_LT(c.Apply(0.2), 0.05);
  EXPECT_GT(c.Apply(0.8), 0.95);
}

TEST(Calibration, RoundTripsThroughJson) {
  std::vector<double> s, y;
  MakeSkewed(500, 4, &s, &y);
  for (CalibrationMethod method :
       {CalibrationMethod::kNone, CalibrationMethod::kPlatt, CalibrationMethod::kIsotonic}) {
    Calibration c = Calibration::Fit(method, s, y);
    absl::StatusOr<Calibration> back = Calibration::FromJson(c.ToJson());
    ASSERT_TRUE(back.ok()) << back.status();
    for (double score : {0.0, 0.01, 0.3, 0.77, 1.0}) {
      EXPECT_DOUBLE_EQ(back->Apply(score), c.Apply(score));
    }
  }
  EXPECT_FALSE(Calibration::FromJson({{"method", "platt"}, {"a", 1}}).ok());
  EXPECT_FALSE(
      Calibration::FromJson({{"method", "isotonic"}, {"x", {0.2, 0.1}}, {"y", {0, 1}}}).ok());
  EXPECT_FALSE(Calibration::FromJson({{"method", "magic"}}).ok());
}

TEST(ScoringRules, BrierAndLogLossOfKnownCases) {
  EXPECT_DOUBLE_EQ(BrierScore({1.0, 0.0}, {1, 0}), 0.0);
  EXPECT_DOUBLE_EQ(BrierScore({0.5, 0.5}, {1, 0}), 0.25);
  EXPECT_NEAR(LogLoss({0.5, 0.5}, {1, 0}), std::log(2.0), 1e-12);
  EXPECT_NEAR(LogLoss({0.0}, {1}), -std::log(1e-6), 1e-9);
}

}  // namespace
}  // namespace shadowfleet

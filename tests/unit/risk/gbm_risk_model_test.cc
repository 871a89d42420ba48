// The learnt risk model: calibrated probabilities, top factors from SHAP contributions in
// plain words, batch and single-row scoring agreeing, and the stored JSON round trip.
#include "shadowfleet/prediction/gbm_risk_model.h"

#include <gtest/gtest.h>

#include <random>

#include "shadowfleet/prediction/risk_training.h"

namespace shadowfleet {
namespace {

// Rows of one metric (memory) whose instances fail when memory will be exhausted within an
// hour; the label depends on the exhaustion feature only.
std::unique_ptr<GbmRiskModel> TrainedModel() {
  RiskFeatures features({"memory_used_ratio"});
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(0, 1);
  LabelledSet set;
  set.x = DenseMatrix(features.size());
  for (int i = 0; i < 2000; ++i) {
    InstanceSignals s;
    double hours = u(rng) < 0.2 ? 2 * u(rng) : 1e9;
    s.features["memory_used_ratio"] = {.value = 0.5 + 0.4 * u(rng),
                                       .exhaustion_seconds = hours * 3600};
    set.x.AddRow(features.Extract(s));
    set.y.push_back(hours < 1 ? 1.0f : 0.0f);
    set.at.push_back(absl::FromUnixSeconds(i * 60));
    set.instance.push_back("i" + std::to_string(i % 4));
  }
  RiskTrainingOptions options;
  options.params.rounds = 60;
  options.params.eta = 0.2;
  absl::StatusOr<TrainedRiskClassifier> trained = TrainRiskClassifier(set, options);
  EXPECT_TRUE(trained.ok()) << trained.status();
  return std::make_unique<GbmRiskModel>(std::move(trained->gbm), std::move(trained->calibration),
                                        features, absl::Minutes(30), "gbm-test");
}

InstanceSignals Memory(double value, double exhaustion_hours) {
  InstanceSignals s;
  s.features["memory_used_ratio"] = {.value = value, .exhaustion_seconds = exhaustion_hours * 3600};
  return s;
}

TEST(GbmRiskModel, ExplainsHighRiskByItsLargestContributions) {
  std::unique_ptr<GbmRiskModel> model = TrainedModel();
  RiskAssessment high = model->Assess(Memory(0.85, 0.5));
  EXPECT_GT(high.probability, 0.8);
  EXPECT_EQ(high.model_version, "gbm-test");
  EXPECT_EQ(high.horizon, absl::Minutes(30));
  ASSERT_FALSE(high.top_factors.empty());
  EXPECT_EQ(high.top_factors[0].name, "memory_used_ratio.exhaustion_hours");
  EXPECT_EQ(high.top_factors[0].description, "memory will be exhausted in about 30 minutes");
  EXPECT_GT(high.top_factors[0].contribution, 0);
  EXPECT_LE(high.top_factors.size(), 5u);

  EXPECT_LT(model->Assess(Memory(0.6, 1e9)).probability, 0.05);
}

TEST(GbmRiskModel, BatchScoringMatchesRowByRow) {
  std::unique_ptr<GbmRiskModel> model = TrainedModel();
  DenseMatrix x(model->features().size());
  for (double hours : {0.2, 0.9, 1.5, 1e9}) {
    x.AddRow(model->features().Extract(Memory(0.7, hours)));
  }
  absl::StatusOr<std::vector<RiskAssessment>> batch = model->AssessRows(x);
  ASSERT_TRUE(batch.ok()) << batch.status();
  for (size_t r = 0; r < x.rows(); ++r) {
    RiskAssessment single = model->AssessRow(x.row(r));
    EXPECT_DOUBLE_EQ((*batch)[r].probability, single.probability);
    ASSERT_EQ((*batch)[r].top_factors.size(), single.top_factors.size());
  }
}

TEST(GbmRiskModel, RoundTripsThroughItsStoredJson) {
  std::unique_ptr<GbmRiskModel> model = TrainedModel();
  absl::StatusOr<nlohmann::json> json = model->ToJson();
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ((*json)["horizonSeconds"], 1800.0);
  absl::StatusOr<std::unique_ptr<GbmRiskModel>> back = GbmRiskModel::FromJson(*json);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)->version(), "gbm-test");
  InstanceSignals s = Memory(0.8, 0.7);
  EXPECT_DOUBLE_EQ((*back)->Assess(s).probability, model->Assess(s).probability);

  nlohmann::json broken = *json;
  broken["model"] = "@@@";
  EXPECT_EQ(GbmRiskModel::FromJson(broken).status().code(), absl::StatusCode::kDataLoss);
  broken = *json;
  broken["features"]["metrics"] = {"memory_used_ratio", "error_rate"};
  broken["features"].erase("names");
  EXPECT_EQ(GbmRiskModel::FromJson(broken).status().code(), absl::StatusCode::kDataLoss);
  broken = *json;
  broken.erase("horizonSeconds");
  EXPECT_EQ(GbmRiskModel::FromJson(broken).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shadowfleet

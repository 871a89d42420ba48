#include "shadowfleet/prediction/gbm_risk_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

#include "shadowfleet/common/status_macros.h"

namespace shadowfleet {
namespace {

constexpr size_t kTopFactors = 5;

absl::Status Field(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("risk model: ", what));
}

}  // namespace

GbmRiskModel::GbmRiskModel(Gbm gbm, Calibration calibration, RiskFeatures features,
                           absl::Duration horizon, std::string version)
    : gbm_(std::move(gbm)),
      calibration_(std::move(calibration)),
      features_(std::move(features)),
      horizon_(horizon),
      version_(std::move(version)) {}

absl::StatusOr<std::unique_ptr<GbmRiskModel>> GbmRiskModel::FromJson(const nlohmann::json& json,
                                                                     int nthread) {
  if (!json.is_object()) {
    return Field("not a JSON object");
  }
  if (!json.contains("version") || !json["version"].is_string()) {
    return Field("\"version\" must be a string");
  }
  if (!json.contains("horizonSeconds") || !json["horizonSeconds"].is_number() ||
      json["horizonSeconds"].get<double>() <= 0) {
    return Field("\"horizonSeconds\" must be a positive number");
  }
  if (!json.contains("model") || !json["model"].is_string()) {
    return Field("\"model\" must be a base64 string");
  }
  SF_ASSIGN_OR_RETURN(RiskFeatures features,
                      RiskFeatures::FromJson(json.value("features", nlohmann::json())));
  SF_ASSIGN_OR_RETURN(Calibration calibration,
                      Calibration::FromJson(json.value("calibration", nlohmann::json())));
  std::string bytes;
  if (!absl::Base64Unescape(json["model"].get<std::string>(), &bytes)) {
    return absl::DataLossError("risk model: \"model\" is not valid base64");
  }
  SF_ASSIGN_OR_RETURN(Gbm gbm, Gbm::Load(bytes, nthread));
  if (gbm.num_features() != features.size()) {
    return absl::DataLossError(absl::StrCat("risk model: the trees use ", gbm.num_features(),
                                            " features, the feature list has ", features.size()));
  }
  return std::make_unique<GbmRiskModel>(std::move(gbm), std::move(calibration), std::move(features),
                                        absl::Seconds(json["horizonSeconds"].get<double>()),
                                        json["version"].get<std::string>());
}

absl::StatusOr<nlohmann::json> GbmRiskModel::ToJson() const {
  SF_ASSIGN_OR_RETURN(std::string bytes, gbm_.Save());
  return nlohmann::json{{"version", version_},
                        {"horizonSeconds", absl::ToDoubleSeconds(horizon_)},
                        {"features", features_.ToJson()},
                        {"calibration", calibration_.ToJson()},
                        {"model", absl::Base64Escape(bytes)}};
}

absl::StatusOr<std::vector<double>> GbmRiskModel::Probabilities(const DenseMatrix& x) const {
  SF_ASSIGN_OR_RETURN(std::vector<float> scores, gbm_.Predict(x));
  std::vector<double> out;
  out.reserve(scores.size());
  for (float s : scores) {
    out.push_back(calibration_.Apply(s));
  }
  return out;
}

RiskAssessment GbmRiskModel::Assess(const InstanceSignals& signals) const {
  std::vector<float> row = features_.Extract(signals);
  return AssessRow(row, &signals);
}

RiskAssessment GbmRiskModel::AssessRow(absl::Span<const float> row,
                                       const InstanceSignals* signals) const {
  RiskAssessment out;
  out.horizon = horizon_;
  out.model_version = version_;
  DenseMatrix x(row.size());
  x.AddRow(row);
  absl::StatusOr<std::vector<double>> p = Probabilities(x);
  absl::StatusOr<DenseMatrix> contributions =
      p.ok() ? gbm_.Contributions(x) : absl::StatusOr<DenseMatrix>(p.status());
  if (!p.ok() || !contributions.ok()) {
    out.probability = std::numeric_limits<double>::quiet_NaN();
    out.top_factors.push_back(
        {"model_error", std::string((p.ok() ? contributions.status() : p.status()).message()), 0});
    return out;
  }
  Explain(row, (*p)[0], contributions->row(0), signals, out);
  return out;
}

absl::StatusOr<std::vector<RiskAssessment>> GbmRiskModel::AssessRows(const DenseMatrix& x) const {
  SF_ASSIGN_OR_RETURN(std::vector<double> p, Probabilities(x));
  SF_ASSIGN_OR_RETURN(DenseMatrix contributions, gbm_.Contributions(x));
  std::vector<RiskAssessment> out(x.rows());
  for (size_t r = 0; r < x.rows(); ++r) {
    out[r].horizon = horizon_;
    out[r].model_version = version_;
    Explain(x.row(r), p[r], contributions.row(r), nullptr, out[r]);
  }
  return out;
}

void GbmRiskModel::Explain(absl::Span<const float> row, double probability,
                           absl::Span<const float> contributions, const InstanceSignals* signals,
                           RiskAssessment& out) const {
  out.probability = probability;
  // The features that raise the risk most (the last contribution is the bias).
  std::vector<size_t> order(features_.size());
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + std::min(kTopFactors, order.size()), order.end(),
                    [&](size_t a, size_t b) { return contributions[a] > contributions[b]; });
  for (size_t k = 0; k < order.size() && k < kTopFactors; ++k) {
    const size_t i = order[k];
    if (!(contributions[i] > 0)) {
      break;
    }
    out.top_factors.push_back(
        {features_.names()[i], features_.Describe(i, row, signals), contributions[i]});
  }
}

}  // namespace shadowfleet

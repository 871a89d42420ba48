// A learnt risk model: gradient-boosted trees over the risk feature vector
// (prediction/risk_features.h), with a calibration map fitted on out-of-fold scores. Its top
// factors are the features with the largest positive SHAP contributions (in log-odds), in
// plain words.
//
// Serialised as one JSON object, the value of the store's "risk.model" objects and of the
// files `shadowfleet train` writes:
//   {"version": "...", "horizonSeconds": 1800, "features": {"metrics": [...], "names": [...]},
//    "calibration": {...}, "model": "<XGBoost JSON model, base64>", ...}
// Other fields (metrics, training window) are kept by whoever writes them.
//
// Example:
//   absl::StatusOr<std::unique_ptr<GbmRiskModel>> m = GbmRiskModel::FromJson(stored);
//   RiskAssessment a = (*m)->Assess(tracker.Snapshot("web-3"));
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include <nlohmann/json.hpp>

#include "shadowfleet/prediction/calibration.h"
#include "shadowfleet/prediction/gbm.h"
#include "shadowfleet/prediction/risk_features.h"
#include "shadowfleet/prediction/risk_model.h"

namespace shadowfleet {

// Thread-safe: Assess() and Probabilities() may be called concurrently.
class GbmRiskModel : public RiskModel {
 public:
  GbmRiskModel(Gbm gbm, Calibration calibration, RiskFeatures features, absl::Duration horizon,
               std::string version);

  // INVALID_ARGUMENT naming the field for a malformed object; DATA_LOSS if the embedded
  // model does not load or its feature count does not match.
  static absl::StatusOr<std::unique_ptr<GbmRiskModel>> FromJson(const nlohmann::json& json,
                                                                int nthread = 1);
  absl::StatusOr<nlohmann::json> ToJson() const;

  // When XGBoost fails (it should not on a loaded model), the probability is NaN, which no
  // threshold comparison passes, and the only factor is "model_error" with the message.
  RiskAssessment Assess(const InstanceSignals& signals) const override;
  // The same for an already extracted row; `signals` (optional) names vulnerabilities.
  RiskAssessment AssessRow(absl::Span<const float> row,
                           const InstanceSignals* signals = nullptr) const;
  // Every row of `x` at once (one XGBoost call for all rows: much faster than row by row).
  absl::StatusOr<std::vector<RiskAssessment>> AssessRows(const DenseMatrix& x) const;

  // Calibrated probabilities of many rows at once (training, evaluation, batch scoring).
  absl::StatusOr<std::vector<double>> Probabilities(const DenseMatrix& x) const;

  std::string version() const override { return version_; }
  absl::Duration horizon() const override { return horizon_; }
  const RiskFeatures& features() const { return features_; }
  const Calibration& calibration() const { return calibration_; }

 private:
  // Fills probability and factors of `out` from one row's calibrated probability and SHAP
  // contributions.
  void Explain(absl::Span<const float> row, double probability,
               absl::Span<const float> contributions, const InstanceSignals* signals,
               RiskAssessment& out) const;

  Gbm gbm_;
  Calibration calibration_;
  RiskFeatures features_;
  absl::Duration horizon_;
  std::string version_;
};

}  // namespace shadowfleet

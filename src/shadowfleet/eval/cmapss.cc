#include "shadowfleet/eval/cmapss.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/status_macros.h"

namespace shadowfleet {
namespace {

constexpr double kDecisionThreshold = 0.5;
// Random cut-offs in cross-validation start here, so that every engine has some history, as
// the test engines do.
constexpr double kMinCutoffCycle = 30;

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Per-row targets of a run-to-failure set: capped RUL for the regressor and "fails within
// the horizon" for the classifier.
void Targets(const CmapssSet& set, std::vector<float>* capped, std::vector<float>* fails,
             std::vector<double>* rul) {
  for (const CmapssUnit& unit : set.units) {
    for (double cycle : unit.cycles) {
      double remaining = unit.cycles.back() - cycle;
      if (capped != nullptr) {
        capped->push_back(static_cast<float>(std::min(remaining, kCmapssRulCap)));
      }
      if (fails != nullptr) {
        fails->push_back(remaining <= kCmapssHorizonCycles ? 1.0f : 0.0f);
      }
      if (rul != nullptr) {
        rul->push_back(remaining);
      }
    }
  }
}

GbmParams WithThreads(GbmParams params, const CmapssOptions& options) {
  params.nthread = options.nthread;
  params.seed = options.seed;
  return params;
}

std::vector<size_t> AllBut(size_t units, const std::vector<size_t>& held_out) {
  std::vector<bool> out(units, false);
  for (size_t i : held_out) {
    out[i] = true;
  }
  std::vector<size_t> rest;
  for (size_t i = 0; i < units; ++i) {
    if (!out[i]) {
      rest.push_back(i);
    }
  }
  return rest;
}

// Out-of-fold classifier scores of every training row: each fold's rows are scored by a
// classifier (with its own preprocessing) trained on the other folds.
absl::StatusOr<std::vector<double>> OutOfFoldScores(const CmapssSet& train,
                                                    const CmapssOptions& options) {
  std::vector<std::vector<double>> by_unit(train.units.size());
  for (const std::vector<size_t>& fold :
       UnitFolds(train.units.size(), options.calibration_folds, options.seed + 1)) {
    CmapssSet fit = train.Subset(AllBut(train.units.size(), fold));
    CmapssSet held = train.Subset(fold);
    CmapssPreprocessor prep = CmapssPreprocessor::Fit(fit);
    std::vector<float> fails;
    Targets(fit, nullptr, &fails, nullptr);
    SF_ASSIGN_OR_RETURN(Gbm classifier, Gbm::Train(CmapssFeatureMatrix(fit, prep), fails,
                                                   WithThreads(options.classifier, options)));
    SF_ASSIGN_OR_RETURN(std::vector<float> scores,
                        classifier.Predict(CmapssFeatureMatrix(held, prep)));
    size_t row = 0;
    for (size_t i : fold) {
      for (size_t r = 0; r < train.units[i].rows(); ++r) {
        by_unit[i].push_back(scores[row++]);
      }
    }
  }
  std::vector<double> out;
  for (const auto& scores : by_unit) {
    out.insert(out.end(), scores.begin(), scores.end());
  }
  return out;
}

nlohmann::json MeanAndSd(const std::vector<CmapssMetrics>& draws) {
  nlohmann::json mean = nlohmann::json::object(), sd = nlohmann::json::object();
  for (const char* key : {"rmse", "mae", "phm08_score", "precision", "recall", "brier"}) {
    std::vector<double> values;
    for (const CmapssMetrics& m : draws) {
      values.push_back(m.ToJson()[key].get<double>());
    }
    double mu = std::accumulate(values.begin(), values.end(), 0.0) / values.size();
    double var = 0;
    for (double v : values) {
      var += (v - mu) * (v - mu);
    }
    mean[key] = mu;
    sd[key] = std::sqrt(var / values.size());
  }
  return {{"draws", draws.size()}, {"mean", mean}, {"sd", sd}};
}

}  // namespace

GbmParams CmapssOptions::DefaultRegressor() {
  GbmParams p;
  p.objective = "reg:squarederror";
  p.rounds = 500;
  p.eta = 0.03;
  p.max_depth = 4;
  p.min_child_weight = 20;
  p.subsample = 0.8;
  p.colsample_bytree = 0.5;
  return p;
}

GbmParams CmapssOptions::DefaultClassifier() {
  GbmParams p;
  p.objective = "binary:logistic";
  p.rounds = 600;
  p.eta = 0.03;
  p.max_depth = 3;
  p.min_child_weight = 2;
  p.subsample = 0.8;
  p.colsample_bytree = 0.5;
  return p;
}

std::vector<std::vector<size_t>> UnitFolds(size_t units, int k, uint64_t seed) {
  std::vector<size_t> order(units);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  for (size_t i = units; i > 1; --i) {
    std::uniform_int_distribution<size_t> pick(0, i - 1);
    std::swap(order[i - 1], order[pick(rng)]);
  }
  std::vector<std::vector<size_t>> folds(k);
  for (size_t i = 0; i < units; ++i) {
    folds[i % k].push_back(order[i]);
  }
  for (auto& fold : folds) {
    std::sort(fold.begin(), fold.end());
  }
  return folds;
}

absl::StatusOr<CmapssModel> CmapssModel::Fit(const CmapssSet& train, const CmapssOptions& options) {
  if (train.units.size() < static_cast<size_t>(std::max(2, options.calibration_folds))) {
    return absl::InvalidArgumentError(absl::StrCat(
        train.path, ": ", train.units.size(), " engines; at least ",
        std::max(2, options.calibration_folds), " are needed for out-of-fold calibration"));
  }
  SF_ASSIGN_OR_RETURN(std::vector<double> oof, OutOfFoldScores(train, options));
  std::vector<float> capped, fails;
  Targets(train, &capped, &fails, nullptr);
  std::vector<double> labels(fails.begin(), fails.end());
  Calibration calibration = Calibration::Fit(options.calibration, oof, labels);

  CmapssPreprocessor prep = CmapssPreprocessor::Fit(train);
  DenseMatrix x = CmapssFeatureMatrix(train, prep);
  SF_ASSIGN_OR_RETURN(Gbm regressor,
                      Gbm::Train(x, capped, WithThreads(options.regressor, options)));
  SF_ASSIGN_OR_RETURN(Gbm classifier,
                      Gbm::Train(x, fails, WithThreads(options.classifier, options)));
  return CmapssModel(std::move(prep), std::move(regressor), std::move(classifier),
                     std::move(calibration));
}

absl::StatusOr<CmapssPredictions> CmapssModel::Predict(const CmapssSet& set) const {
  DenseMatrix x = CmapssFeatureMatrix(set, prep_);
  SF_ASSIGN_OR_RETURN(std::vector<float> rul, regressor_.Predict(x));
  SF_ASSIGN_OR_RETURN(std::vector<float> score, classifier_.Predict(x));
  CmapssPredictions out;
  for (size_t i = 0; i < rul.size(); ++i) {
    out.rul.push_back(std::clamp<double>(rul[i], 0.0, kCmapssRulCap));
    out.probability.push_back(std::clamp(calibration_.Apply(score[i]), 0.0, 1.0));
  }
  return out;
}

nlohmann::json CmapssMetrics::ToJson() const {
  return {{"rmse", rmse},
          {"phm08_score", phm08_score},
          {"precision", precision},
          {"recall", recall},
          {"brier", brier},
          {"mae", mae},
          {"units", n},
          {"positives", positives}};
}

CmapssMetrics ScoreCmapss(absl::Span<const double> rul, absl::Span<const double> probability,
                          absl::Span<const double> true_rul) {
  CmapssMetrics m;
  m.n = rul.size();
  size_t predicted = 0, hits = 0;
  for (size_t i = 0; i < m.n; ++i) {
    double d = rul[i] - std::min(true_rul[i], kCmapssRulCap);
    m.rmse += d * d;
    m.mae += std::fabs(d);
    // Late estimates (d > 0) are punished harder than early ones: the PHM08 challenge's rule.
    m.phm08_score += d < 0 ? std::exp(-d / 13.0) - 1 : std::exp(d / 10.0) - 1;
    bool positive = true_rul[i] <= kCmapssHorizonCycles;
    bool flagged = probability[i] >= kDecisionThreshold;
    m.positives += positive ? 1 : 0;
    predicted += flagged ? 1 : 0;
    hits += positive && flagged ? 1 : 0;
    double e = probability[i] - (positive ? 1.0 : 0.0);
    m.brier += e * e;
  }
  if (m.n > 0) {
    m.rmse = std::sqrt(m.rmse / m.n);
    m.mae /= m.n;
    m.brier /= m.n;
  }
  m.precision = static_cast<double>(hits) / std::max<size_t>(1, predicted);
  m.recall = static_cast<double>(hits) / std::max<size_t>(1, m.positives);
  return m;
}

absl::StatusOr<nlohmann::json> EvaluateCmapss(const CmapssSet& train, const CmapssSet& test,
                                              const std::vector<double>& true_rul,
                                              const CmapssOptions& options) {
  if (train.sensor_names != test.sensor_names) {
    return absl::InvalidArgumentError(absl::StrCat(
        test.path, ": sensor columns differ from the training file's (", train.path, ")"));
  }
  auto start = std::chrono::steady_clock::now();
  SF_ASSIGN_OR_RETURN(CmapssModel model, CmapssModel::Fit(train, options));
  double fit_seconds = Seconds(start);

  // The model is frozen from here on; the test set is only scored.
  start = std::chrono::steady_clock::now();
  SF_ASSIGN_OR_RETURN(CmapssPredictions p, model.Predict(test));
  double predict_seconds = Seconds(start);
  std::vector<double> rul, probability;
  size_t row = 0;
  for (const CmapssUnit& unit : test.units) {
    row += unit.rows();
    rul.push_back(p.rul[row - 1]);
    probability.push_back(p.probability[row - 1]);
  }
  nlohmann::json out = ScoreCmapss(rul, probability, true_rul).ToJson();
  out["train"] = train.path;
  out["test"] = test.path;
  out["conditions"] = model.preprocessor().conditions().count();
  out["sensors"] = model.preprocessor().kept_sensors();
  out["features"] = CmapssFeatureNames(model.preprocessor().kept_sensors()).size();
  out["calibration"] = model.calibration().ToJson();
  out["trainRows"] = train.rows();
  out["testRows"] = test.rows();
  out["fitSeconds"] = fit_seconds;
  out["predictSeconds"] = predict_seconds;
  return out;
}

absl::StatusOr<nlohmann::json> CrossValidateCmapss(const CmapssSet& train,
                                                   const CmapssOptions& options, int folds,
                                                   int draws) {
  std::vector<double> true_rul;
  Targets(train, nullptr, nullptr, &true_rul);
  std::vector<double> rul(true_rul.size()), probability(true_rul.size());
  std::vector<size_t> first_row(train.units.size() + 1, 0);
  for (size_t i = 0; i < train.units.size(); ++i) {
    first_row[i + 1] = first_row[i] + train.units[i].rows();
  }

  auto start = std::chrono::steady_clock::now();
  nlohmann::json per_fold = nlohmann::json::array();
  for (const std::vector<size_t>& fold : UnitFolds(train.units.size(), folds, options.seed)) {
    CmapssSet held = train.Subset(fold);
    SF_ASSIGN_OR_RETURN(CmapssModel model,
                        CmapssModel::Fit(train.Subset(AllBut(train.units.size(), fold)), options));
    SF_ASSIGN_OR_RETURN(CmapssPredictions p, model.Predict(held));
    size_t k = 0;
    std::vector<double> fold_truth;
    for (size_t i : fold) {
      for (size_t r = first_row[i]; r < first_row[i + 1]; ++r, ++k) {
        rul[r] = p.rul[k];
        probability[r] = p.probability[k];
        fold_truth.push_back(true_rul[r]);
      }
    }
    per_fold.push_back(ScoreCmapss(p.rul, p.probability, fold_truth).ToJson());
  }

  // One random cut-off per engine, as in the test set.
  std::mt19937_64 rng(options.seed + 123);
  std::vector<CmapssMetrics> truncated;
  for (int d = 0; d < draws; ++d) {
    std::vector<double> r, p, t;
    for (size_t i = 0; i < train.units.size(); ++i) {
      std::vector<size_t> eligible;
      for (size_t row = first_row[i]; row < first_row[i + 1]; ++row) {
        if (train.units[i].cycles[row - first_row[i]] >= kMinCutoffCycle) {
          eligible.push_back(row);
        }
      }
      if (eligible.empty()) {
        continue;
      }
      size_t pick = eligible[std::uniform_int_distribution<size_t>(0, eligible.size() - 1)(rng)];
      r.push_back(rul[pick]);
      p.push_back(probability[pick]);
      t.push_back(true_rul[pick]);
    }
    truncated.push_back(ScoreCmapss(r, p, t));
  }
  return nlohmann::json{{"train", train.path},
                        {"folds", folds},
                        {"perFold", per_fold},
                        {"allCycles", ScoreCmapss(rul, probability, true_rul).ToJson()},
                        {"truncated", MeanAndSd(truncated)},
                        {"seconds", Seconds(start)}};
}

}  // namespace shadowfleet

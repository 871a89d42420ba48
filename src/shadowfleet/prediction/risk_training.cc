#include "shadowfleet/prediction/risk_training.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/status_macros.h"

namespace shadowfleet {

ExampleLabel LabelExample(const std::string& instance, absl::Time at, absl::Duration horizon,
                          const InstanceHistory& history, absl::Time data_end) {
  const absl::Time until = at + horizon;
  auto it = history.find(instance);
  if (it != history.end()) {
    const std::vector<InstanceEvent>& events = it->second;
    auto next = std::upper_bound(events.begin(), events.end(), at,
                                 [](absl::Time t, const InstanceEvent& e) { return t < e.at; });
    // A failure at the end of the horizon is inside it; a switch-out there comes after the
    // instance was seen alive through the horizon.
    if (next != events.end() && next->type == InstanceEvent::Type::kFailure && next->at <= until) {
      return ExampleLabel::kPositive;
    }
    if (next != events.end() && next->type == InstanceEvent::Type::kSwitchedOut &&
        next->at < until) {
      return ExampleLabel::kCensored;
    }
    if (next != events.end()) {
      return ExampleLabel::kNegative;  // Something happened later: alive through the horizon.
    }
  }
  return until <= data_end ? ExampleLabel::kNegative : ExampleLabel::kCensored;
}

size_t LabelledSet::positives() const {
  return static_cast<size_t>(std::count(y.begin(), y.end(), 1.0f));
}

LabelledSet LabelledSet::Select(const std::vector<size_t>& indices) const {
  LabelledSet out;
  out.x = x.Select(indices);
  for (size_t i : indices) {
    out.y.push_back(y[i]);
    out.at.push_back(at[i]);
    out.instance.push_back(instance[i]);
  }
  return out;
}

LabelledSet LabelExamples(const std::vector<RiskExample>& examples, size_t features,
                          absl::Duration horizon, const InstanceHistory& history,
                          absl::Time data_end) {
  LabelledSet out;
  out.x = DenseMatrix(features);
  for (const RiskExample& e : examples) {
    if (e.features.size() != features) {
      continue;
    }
    ExampleLabel label = LabelExample(e.instance, e.at, horizon, history, data_end);
    if (label == ExampleLabel::kCensored) {
      ++out.censored;
      continue;
    }
    out.x.AddRow(e.features);
    out.y.push_back(label == ExampleLabel::kPositive ? 1.0f : 0.0f);
    out.at.push_back(e.at);
    out.instance.push_back(e.instance);
  }
  return out;
}

TimeSplit SplitByTime(const LabelledSet& set, double holdout_fraction, absl::Duration horizon) {
  TimeSplit out;
  if (set.size() == 0) {
    return out;
  }
  std::vector<size_t> order(set.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return set.at[a] < set.at[b]; });
  const size_t cut_index = static_cast<size_t>(set.size() * (1 - holdout_fraction));
  out.cut = set.at[order[std::min(cut_index, order.size() - 1)]];
  std::vector<size_t> train, holdout;
  for (size_t i : order) {
    if (set.at[i] >= out.cut) {
      holdout.push_back(i);
    } else if (set.at[i] + horizon <= out.cut) {
      train.push_back(i);
    }
  }
  out.train = set.Select(train);
  out.holdout = set.Select(holdout);
  return out;
}

GbmParams RiskTrainingOptions::DefaultParams() {
  GbmParams p;
  p.objective = "binary:logistic";
  p.rounds = 200;
  p.eta = 0.05;
  p.max_depth = 3;
  p.min_child_weight = 2;
  p.subsample = 0.8;
  p.colsample_bytree = 0.8;
  return p;
}

absl::StatusOr<TrainedRiskClassifier> TrainRiskClassifier(const LabelledSet& set,
                                                          const RiskTrainingOptions& options) {
  const size_t positives = set.positives();
  const std::set<std::string> distinct(set.instance.begin(), set.instance.end());
  std::vector<std::string> instances(distinct.begin(), distinct.end());
  if (positives == 0 || positives == set.size()) {
    return absl::FailedPreconditionError(
        absl::StrCat("training needs failures and survivals: ", positives, " of ", set.size(),
                     " labelled examples are positive"));
  }
  if (instances.size() < 2) {
    return absl::FailedPreconditionError(
        "training needs examples of at least two instances for out-of-fold calibration");
  }

  // Folds by instance, after a seeded shuffle.
  std::mt19937_64 rng(options.seed + 1);
  std::shuffle(instances.begin(), instances.end(), rng);
  const size_t k = std::min<size_t>(std::max(2, options.folds), instances.size());
  std::map<std::string, size_t> fold_of;
  for (size_t i = 0; i < instances.size(); ++i) {
    fold_of[instances[i]] = i % k;
  }

  std::vector<double> oof(set.size(), 0.0);
  for (size_t fold = 0; fold < k; ++fold) {
    std::vector<size_t> fit, held;
    for (size_t i = 0; i < set.size(); ++i) {
      (fold_of[set.instance[i]] == fold ? held : fit).push_back(i);
    }
    LabelledSet part = set.Select(fit);
    SF_ASSIGN_OR_RETURN(Gbm gbm, Gbm::Train(part.x, part.y, options.params));
    SF_ASSIGN_OR_RETURN(std::vector<float> scores, gbm.Predict(set.x.Select(held)));
    for (size_t j = 0; j < held.size(); ++j) {
      oof[held[j]] = scores[j];
    }
  }
  std::vector<double> labels(set.y.begin(), set.y.end());
  Calibration calibration = Calibration::Fit(options.calibration, oof, labels);
  SF_ASSIGN_OR_RETURN(Gbm gbm, Gbm::Train(set.x, set.y, options.params));

  std::vector<double> calibrated;
  for (double s : oof) {
    calibrated.push_back(calibration.Apply(s));
  }
  nlohmann::json metrics = {
      {"examples", set.size()},
      {"positives", positives},
      {"instances", instances.size()},
      {"folds", k},
      // Raw out-of-fold scores: an honest estimate of the uncalibrated classifier.
      {"oof", {{"brier", BrierScore(oof, labels)}, {"logLoss", LogLoss(oof, labels)}}},
      // The same scores after the calibration fitted on them (optimistic by construction).
      {"oofCalibrated",
       {{"brier", BrierScore(calibrated, labels)}, {"logLoss", LogLoss(calibrated, labels)}}},
  };
  return TrainedRiskClassifier{std::move(gbm), std::move(calibration), std::move(metrics)};
}

}  // namespace shadowfleet

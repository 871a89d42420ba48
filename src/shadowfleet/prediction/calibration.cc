#include "shadowfleet/prediction/calibration.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace shadowfleet {
namespace {

// Scores are clipped this far from 0 and 1 before taking their logit, so that a classifier
// that outputs exactly 0 or 1 still gives a finite input.
constexpr double kScoreEpsilon = 1e-6;
constexpr double kLogLossEpsilon = 1e-6;

double Logit(double s) {
  s = std::clamp(s, kScoreEpsilon, 1.0 - kScoreEpsilon);
  return std::log(s / (1.0 - s));
}

double Sigmoid(double z) {
  return 1.0 / (1.0 + std::exp(-z));
}

double PlattLoss(const std::vector<double>& z, absl::Span<const double> y, double a, double b) {
  double loss = 0;
  for (size_t i = 0; i < z.size(); ++i) {
    double m = a * z[i] + b;
    // log(1 + e^m) - y m, written to stay finite for large |m|.
    loss += (m > 0 ? m + std::log1p(std::exp(-m)) : std::log1p(std::exp(m))) - y[i] * m;
  }
  return loss;
}

}  // namespace

const char* CalibrationMethodName(CalibrationMethod method) {
  switch (method) {
    case CalibrationMethod::kNone:
      return "none";
    case CalibrationMethod::kPlatt:
      return "platt";
    case CalibrationMethod::kIsotonic:
      return "isotonic";
  }
  return "none";
}

Calibration Calibration::FitPlatt(absl::Span<const double> scores,
                                  absl::Span<const double> labels) {
  // Logistic regression of the label on logit(score): Newton's method on the log-loss from
  // the identity map (a = 1, b = 0). A step that does not lower the loss is halved, so that
  // separable data (where the optimum is at infinity) stops at a steep but finite map.
  std::vector<double> z(scores.size());
  std::transform(scores.begin(), scores.end(), z.begin(), Logit);
  double a = 1.0;
  double b = 0.0;
  double loss = PlattLoss(z, labels, a, b);
  for (int iteration = 0; iteration < 50; ++iteration) {
    double ga = 0, gb = 0, haa = 0, hab = 0, hbb = 0;
    for (size_t i = 0; i < z.size(); ++i) {
      double q = Sigmoid(a * z[i] + b);
      double w = q * (1 - q) + 1e-12;
      ga += (q - labels[i]) * z[i];
      gb += q - labels[i];
      haa += w * z[i] * z[i];
      hab += w * z[i];
      hbb += w;
    }
    haa += 1e-9;
    hbb += 1e-9;
    double det = haa * hbb - hab * hab;
    if (!(std::fabs(det) > 0)) {
      break;
    }
    double step_a = (hbb * ga - hab * gb) / det;
    double step_b = (haa * gb - hab * ga) / det;
    double scale = 1.0;
    double next_loss = PlattLoss(z, labels, a - step_a, b - step_b);
    while (!(next_loss <= loss) && scale > 1e-6) {
      scale *= 0.5;
      next_loss = PlattLoss(z, labels, a - scale * step_a, b - scale * step_b);
    }
    if (!(next_loss <= loss)) {
      break;
    }
    a -= scale * step_a;
    b -= scale * step_b;
    loss = next_loss;
    if (std::max(std::fabs(scale * step_a), std::fabs(scale * step_b)) < 1e-10) {
      break;
    }
  }
  Calibration c;
  c.method_ = CalibrationMethod::kPlatt;
  c.a_ = a;
  c.b_ = b;
  return c;
}

Calibration Calibration::FitIsotonic(absl::Span<const double> scores,
                                     absl::Span<const double> labels) {
  // Pool adjacent violators over the scores in increasing order. Equal scores are pooled
  // first, since a map cannot give one score two values.
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t i, size_t j) { return scores[i] < scores[j]; });
  struct Block {
    double value;  // Mean label.
    double weight;
    double lo, hi;  // Score range covered.
  };
  std::vector<Block> blocks;
  for (size_t k = 0; k < order.size();) {
    double s = scores[order[k]];
    double sum = 0, count = 0;
    for (; k < order.size() && scores[order[k]] == s; ++k) {
      sum += labels[order[k]];
      count += 1;
    }
    blocks.push_back({sum / count, count, s, s});
    while (blocks.size() > 1 && blocks[blocks.size() - 2].value >= blocks.back().value) {
      Block last = blocks.back();
      blocks.pop_back();
      Block& prev = blocks.back();
      prev.value =
          (prev.value * prev.weight + last.value * last.weight) / (prev.weight + last.weight);
      prev.weight += last.weight;
      prev.hi = last.hi;
    }
  }
  Calibration c;
  c.method_ = CalibrationMethod::kIsotonic;
  for (const Block& block : blocks) {
    c.x_.insert(c.x_.end(), {block.lo, block.hi});
    c.y_.insert(c.y_.end(), {block.value, block.value});
  }
  return c;
}

Calibration Calibration::Fit(CalibrationMethod method, absl::Span<const double> scores,
                             absl::Span<const double> labels) {
  switch (method) {
    case CalibrationMethod::kPlatt:
      return FitPlatt(scores, labels);
    case CalibrationMethod::kIsotonic:
      return FitIsotonic(scores, labels);
    case CalibrationMethod::kNone:
      break;
  }
  return Calibration();
}

double Calibration::Apply(double score) const {
  switch (method_) {
    case CalibrationMethod::kPlatt:
      return Sigmoid(a_ * Logit(score) + b_);
    case CalibrationMethod::kIsotonic: {
      if (x_.empty()) {
        return std::clamp(score, 0.0, 1.0);
      }
      if (score <= x_.front()) {
        return y_.front();
      }
      if (score >= x_.back()) {
        return y_.back();
      }
      // The first knot above the score; knots may repeat a score at block boundaries.
      size_t hi = std::upper_bound(x_.begin(), x_.end(), score) - x_.begin();
      size_t lo = hi - 1;
      double span = x_[hi] - x_[lo];
      double t = span > 0 ? (score - x_[lo]) / span : 0.0;
      return y_[lo] + t * (y_[hi] - y_[lo]);
    }
    case CalibrationMethod::kNone:
      break;
  }
  return std::isnan(score) ? score : std::clamp(score, 0.0, 1.0);
}

nlohmann::json Calibration::ToJson() const {
  nlohmann::json j = {{"method", CalibrationMethodName(method_)}};
  if (method_ == CalibrationMethod::kPlatt) {
    j["a"] = a_;
    j["b"] = b_;
  } else if (method_ == CalibrationMethod::kIsotonic) {
    j["x"] = x_;
    j["y"] = y_;
  }
  return j;
}

absl::StatusOr<Calibration> Calibration::FromJson(const nlohmann::json& json) {
  if (!json.is_object() || !json.contains("method") || !json["method"].is_string()) {
    return absl::InvalidArgumentError("calibration: \"method\" must be a string");
  }
  Calibration c;
  std::string method = json["method"].get<std::string>();
  if (method == "none") {
    return c;
  }
  if (method == "platt") {
    if (!json.contains("a") || !json["a"].is_number() || !json.contains("b") ||
        !json["b"].is_number()) {
      return absl::InvalidArgumentError("calibration: platt needs numbers \"a\" and \"b\"");
    }
    c.method_ = CalibrationMethod::kPlatt;
    c.a_ = json["a"].get<double>();
    c.b_ = json["b"].get<double>();
    return c;
  }
  if (method == "isotonic") {
    if (!json.contains("x") || !json.contains("y") || !json["x"].is_array() ||
        !json["y"].is_array() || json["x"].size() != json["y"].size()) {
      return absl::InvalidArgumentError(
          "calibration: isotonic needs arrays \"x\" and \"y\" of equal length");
    }
    c.method_ = CalibrationMethod::kIsotonic;
    for (size_t i = 0; i < json["x"].size(); ++i) {
      if (!json["x"][i].is_number() || !json["y"][i].is_number()) {
        return absl::InvalidArgumentError(
            absl::StrCat("calibration: knot ", i, " is not a number"));
      }
      c.x_.push_back(json["x"][i].get<double>());
      c.y_.push_back(json["y"][i].get<double>());
      if (i > 0 && (c.x_[i] < c.x_[i - 1] || c.y_[i] < c.y_[i - 1])) {
        return absl::InvalidArgumentError(
            absl::StrCat("calibration: knot ", i, " breaks the increasing order"));
      }
    }
    return c;
  }
  return absl::InvalidArgumentError(absl::StrCat("calibration: unknown method \"", method, "\""));
}

double BrierScore(absl::Span<const double> probabilities, absl::Span<const double> labels) {
  if (probabilities.empty()) {
    return 0.0;
  }
  double sum = 0;
  for (size_t i = 0; i < probabilities.size(); ++i) {
    double d = probabilities[i] - labels[i];
    sum += d * d;
  }
  return sum / static_cast<double>(probabilities.size());
}

double LogLoss(absl::Span<const double> probabilities, absl::Span<const double> labels) {
  if (probabilities.empty()) {
    return 0.0;
  }
  double sum = 0;
  for (size_t i = 0; i < probabilities.size(); ++i) {
    double p = std::clamp(probabilities[i], kLogLossEpsilon, 1.0 - kLogLossEpsilon);
    sum -= labels[i] * std::log(p) + (1 - labels[i]) * std::log(1 - p);
  }
  return sum / static_cast<double>(probabilities.size());
}

}  // namespace shadowfleet

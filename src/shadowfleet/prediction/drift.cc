#include "shadowfleet/prediction/drift.h"

#include <algorithm>
#include <cmath>

namespace shadowfleet {
namespace {

constexpr double kMinShare = 1e-4;

}  // namespace

FeatureHistogram FeatureHistogram::Fit(absl::Span<const float> values, int bins) {
  std::vector<float> present;
  for (float v : values) {
    if (!std::isnan(v)) {
      present.push_back(v);
    }
  }
  std::sort(present.begin(), present.end());
  FeatureHistogram h;
  for (int i = 1; i < bins && !present.empty(); ++i) {
    float edge = present[present.size() * i / bins];
    // Equal quantiles (a feature with few distinct values) collapse into one edge.
    if (edge > present.front() && (h.edges_.empty() || edge > h.edges_.back())) {
      h.edges_.push_back(edge);
    }
  }
  h.shares_ = h.Shares(values);
  return h;
}

std::vector<double> FeatureHistogram::Shares(absl::Span<const float> values) const {
  std::vector<double> shares(edges_.size() + 2, 0.0);
  for (float v : values) {
    size_t bin = std::isnan(v) ? edges_.size() + 1
                               : std::upper_bound(edges_.begin(), edges_.end(), v) - edges_.begin();
    shares[bin] += 1;
  }
  for (double& s : shares) {
    s = values.empty() ? 0.0 : s / static_cast<double>(values.size());
  }
  return shares;
}

double FeatureHistogram::Psi(absl::Span<const float> values) const {
  if (values.empty()) {
    return 0.0;
  }
  std::vector<double> recent = Shares(values);
  double psi = 0;
  for (size_t i = 0; i < recent.size(); ++i) {
    double a = std::max(recent[i], kMinShare);
    double e = std::max(shares_[i], kMinShare);
    psi += (a - e) * std::log(a / e);
  }
  return psi;
}

nlohmann::json FeatureHistogram::ToJson() const {
  return {{"edges", edges_}, {"shares", shares_}};
}

absl::StatusOr<FeatureHistogram> FeatureHistogram::FromJson(const nlohmann::json& json) {
  FeatureHistogram h;
  if (!json.is_object() || !json.contains("edges") || !json.contains("shares") ||
      !json["edges"].is_array() || !json["shares"].is_array() ||
      json["shares"].size() != json["edges"].size() + 2) {
    return absl::InvalidArgumentError("drift histogram: needs \"edges\" and \"shares\" (+2)");
  }
  for (const nlohmann::json& e : json["edges"]) {
    if (!e.is_number()) {
      return absl::InvalidArgumentError("drift histogram: an edge is not a number");
    }
    h.edges_.push_back(e.get<float>());
  }
  for (const nlohmann::json& s : json["shares"]) {
    if (!s.is_number()) {
      return absl::InvalidArgumentError("drift histogram: a share is not a number");
    }
    h.shares_.push_back(s.get<double>());
  }
  return h;
}

}  // namespace shadowfleet

#include "shadowfleet/prediction/cvss.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace shadowfleet {
namespace {

// Metrics that may appear after the base metrics; their values are not checked because they
// do not enter the base score.
const std::set<std::string>& OtherMetrics() {
  static const auto* kOther = new std::set<std::string>{
      "E", "RL", "RC", "CR", "IR", "AR", "MAV", "MAC", "MPR", "MUI", "MS", "MC", "MI", "MA"};
  return *kOther;
}

// Appendix A of CVSS v3.1: the smallest number with one decimal that is >= the input, computed
// on integers so that 4.000000000000001 rounds to 4.0 and not 4.1.
double RoundUp31(double value) {
  auto scaled = static_cast<int64_t>(std::llround(value * 100000));
  if (scaled % 10000 == 0) {
    return static_cast<double>(scaled) / 100000.0;
  }
  return static_cast<double>(scaled / 10000 + 1) / 10.0;
}

double RoundUp30(double value) {
  return std::ceil(value * 10) / 10;
}

absl::StatusOr<double> Weight(const std::string& metric, const std::string& value, bool changed) {
  static const auto* kWeights = new std::map<std::string, std::map<std::string, double>>{
      {"AV", {{"N", 0.85}, {"A", 0.62}, {"L", 0.55}, {"P", 0.2}}},
      {"AC", {{"L", 0.77}, {"H", 0.44}}},
      {"UI", {{"N", 0.85}, {"R", 0.62}}},
      {"C", {{"H", 0.56}, {"L", 0.22}, {"N", 0.0}}},
      {"I", {{"H", 0.56}, {"L", 0.22}, {"N", 0.0}}},
      {"A", {{"H", 0.56}, {"L", 0.22}, {"N", 0.0}}},
  };
  if (metric == "PR") {
    // Privileges matter more when the scope changes: the attacker gets past a boundary.
    if (value == "N") {
      return 0.85;
    }
    if (value == "L") {
      return changed ? 0.68 : 0.62;
    }
    if (value == "H") {
      return changed ? 0.5 : 0.27;
    }
  } else if (auto m = kWeights->find(metric); m != kWeights->end()) {
    if (auto v = m->second.find(value); v != m->second.end()) {
      return v->second;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("CVSS metric ", metric, " has no value \"", value, "\""));
}

}  // namespace

absl::StatusOr<double> CvssV3BaseScore(absl::string_view vector) {
  bool v30 = absl::StartsWith(vector, "CVSS:3.0/");
  if (!v30 && !absl::StartsWith(vector, "CVSS:3.1/")) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", vector, "\" is not a CVSS v3 vector (CVSS:3.0/... or CVSS:3.1/...)"));
  }
  std::map<std::string, std::string> base;
  const std::set<std::string> kBase = {"AV", "AC", "PR", "UI", "S", "C", "I", "A"};
  for (absl::string_view part : absl::StrSplit(vector.substr(9), '/')) {
    std::vector<std::string> kv = absl::StrSplit(part, ':');
    if (kv.size() != 2 || kv[0].empty() || kv[1].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("CVSS vector \"", vector, "\": \"", part, "\" is not METRIC:VALUE"));
    }
    if (kBase.count(kv[0]) > 0) {
      if (!base.emplace(kv[0], kv[1]).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("CVSS vector \"", vector, "\": ", kv[0], " appears twice"));
      }
    } else if (OtherMetrics().count(kv[0]) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("CVSS vector \"", vector, "\": unknown metric ", kv[0]));
    }
  }
  for (const std::string& m : kBase) {
    if (base.count(m) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("CVSS vector \"", vector, "\": base metric ", m, " is missing"));
    }
  }
  if (base["S"] != "U" && base["S"] != "C") {
    return absl::InvalidArgumentError(
        absl::StrCat("CVSS metric S has no value \"", base["S"], "\""));
  }
  const bool changed = base["S"] == "C";
  std::map<std::string, double> w;
  for (const char* m : {"AV", "AC", "PR", "UI", "C", "I", "A"}) {
    absl::StatusOr<double> weight = Weight(m, base[m], changed);
    if (!weight.ok()) {
      return weight.status();
    }
    w[m] = *weight;
  }

  const double iss = 1 - (1 - w["C"]) * (1 - w["I"]) * (1 - w["A"]);
  const double impact =
      changed ? 7.52 * (iss - 0.029) - 3.25 * std::pow(iss - 0.02, 15) : 6.42 * iss;
  const double exploitability = 8.22 * w["AV"] * w["AC"] * w["PR"] * w["UI"];
  if (impact <= 0) {
    return 0.0;
  }
  double raw = changed ? std::min(1.08 * (impact + exploitability), 10.0)
                       : std::min(impact + exploitability, 10.0);
  return v30 ? RoundUp30(raw) : RoundUp31(raw);
}

}  // namespace shadowfleet

#include "shadowfleet/prediction/vulnerabilities.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "shadowfleet/common/files.h"
#include "shadowfleet/common/logging.h"
#include "shadowfleet/prediction/cvss.h"
#include "shadowfleet/prediction/debian_version.h"

namespace shadowfleet {
namespace {

// The middle of each qualitative CVSS v3 band (low 0.1-3.9, medium 4.0-6.9, high 7.0-8.9,
// critical 9.0-10.0): what a severity word is worth when no vector is given.
double QualitativeSeverity(std::string word) {
  word = absl::AsciiStrToLower(word);
  if (word == "critical") {
    return 9.5;
  }
  if (word == "high") {
    return 7.95;
  }
  if (word == "medium" || word == "moderate") {
    return 5.45;
  }
  if (word == "low") {
    return 2.0;
  }
  return 0.0;  // "unimportant", "not yet assigned", unknown words.
}

// The best CVSS v3 score in an OSV severity array, or -1 if none can be computed.
double VectorSeverity(const nlohmann::json& severities) {
  double best = -1;
  if (!severities.is_array()) {
    return best;
  }
  for (const nlohmann::json& s : severities) {
    if (s.is_object() && s.value("type", "") == "CVSS_V3" && s.contains("score") &&
        s["score"].is_string()) {
      absl::StatusOr<double> score = CvssV3BaseScore(s["score"].get<std::string>());
      if (score.ok()) {
        best = std::max(best, *score);
      }
    }
  }
  return best;
}

double WordSeverity(const nlohmann::json& object) {
  if (!object.is_object()) {
    return -1;
  }
  for (const char* key : {"severity", "urgency"}) {
    if (object.contains(key) && object[key].is_string()) {
      return QualitativeSeverity(object[key].get<std::string>());
    }
  }
  return -1;
}

double Severity(const nlohmann::json& advisory, const nlohmann::json& affected) {
  for (double s : {VectorSeverity(affected.value("severity", nlohmann::json())),
                   VectorSeverity(advisory.value("severity", nlohmann::json())),
                   WordSeverity(affected.value("database_specific", nlohmann::json())),
                   WordSeverity(affected.value("ecosystem_specific", nlohmann::json())),
                   WordSeverity(advisory.value("database_specific", nlohmann::json()))}) {
    if (s >= 0) {
      return s;
    }
  }
  return 0.0;
}

absl::Status Malformed(const std::string& source, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": not an OSV advisory: ", what));
}

}  // namespace

absl::StatusOr<VulnerabilityDatabase> VulnerabilityDatabase::LoadDirectory(
    const std::string& dir, VulnerabilityOptions options) {
  std::error_code error;
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      files.push_back(entry.path().string());
    }
  }
  if (error) {
    return absl::NotFoundError(absl::StrCat(dir, ": cannot read the directory: ", error.message()));
  }
  std::sort(files.begin(), files.end());

  VulnerabilityDatabase db;
  db.options_ = options;
  for (const std::string& file : files) {
    absl::StatusOr<std::string> text = ReadFile(file);
    absl::Status status = text.status();
    if (status.ok()) {
      nlohmann::json advisory = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
      status = advisory.is_discarded() ? Malformed(file, "the file is not valid JSON")
                                       : db.Add(advisory, file);
    }
    if (!status.ok()) {
      if (!options.skip_invalid) {
        return status;
      }
      ++db.skipped_;
      Logger("risk")->warn("advisory skipped file={} reason=\"{}\"", file,
                           std::string(status.message()));
    }
  }
  return db;
}

absl::Status VulnerabilityDatabase::Add(const nlohmann::json& advisory, const std::string& source) {
  if (!advisory.is_object() || !advisory.contains("id") || !advisory["id"].is_string()) {
    return Malformed(source, "\"id\" must be a string");
  }
  if (advisory.contains("affected") && !advisory["affected"].is_array()) {
    return Malformed(source, "\"affected\" must be an array");
  }
  const size_t index = advisories_.size();
  std::vector<std::pair<std::string, Affected>> entries;
  for (const nlohmann::json& a : advisory.value("affected", nlohmann::json::array())) {
    if (!a.is_object() || !a.contains("package") || !a["package"].is_object() ||
        !a["package"].contains("name") || !a["package"]["name"].is_string()) {
      return Malformed(source, "affected[].package.name must be a string");
    }
    std::string ecosystem = a["package"].value("ecosystem", "");
    if (!options_.ecosystem.empty() && !absl::StartsWith(ecosystem, options_.ecosystem)) {
      continue;
    }
    Affected affected{index, {}, {}, Severity(advisory, a)};
    for (const nlohmann::json& v : a.value("versions", nlohmann::json::array())) {
      if (v.is_string()) {
        affected.versions.push_back(v.get<std::string>());
      }
    }
    for (const nlohmann::json& r : a.value("ranges", nlohmann::json::array())) {
      std::string type = r.is_object() ? r.value("type", "") : "";
      if (type != "ECOSYSTEM" && type != "SEMVER") {
        continue;  // GIT ranges name commits, not versions.
      }
      if (!r.contains("events") || !r["events"].is_array()) {
        return Malformed(source, "affected[].ranges[].events must be an array");
      }
      Range range;
      for (const nlohmann::json& e : r["events"]) {
        for (const char* kind : {"introduced", "fixed", "last_affected"}) {
          if (e.is_object() && e.contains(kind) && e[kind].is_string()) {
            range.events.emplace_back(kind, e[kind].get<std::string>());
          }
        }
      }
      affected.ranges.push_back(std::move(range));
    }
    entries.emplace_back(a["package"]["name"].get<std::string>(), std::move(affected));
  }
  advisories_.push_back({advisory["id"].get<std::string>()});
  for (auto& [name, affected] : entries) {
    by_package_.emplace(name, std::move(affected));
  }
  return absl::OkStatus();
}

bool VulnerabilityDatabase::Affects(const Affected& affected, const std::string& version) const {
  if (std::find(affected.versions.begin(), affected.versions.end(), version) !=
      affected.versions.end()) {
    return true;
  }
  for (const Range& range : affected.ranges) {
    // Walk the events in version order ("0" before everything); the last event at or below
    // the installed version decides.
    std::vector<std::pair<std::string, std::string>> events = range.events;
    auto below = [](const std::string& a, const std::string& b) {
      if (a == "0" || b == "0") {
        return a == "0" && b != "0";
      }
      return CompareDebianVersions(a, b) < 0;
    };
    std::stable_sort(events.begin(), events.end(),
                     [&](const auto& x, const auto& y) { return below(x.second, y.second); });
    bool affected_now = false;
    for (const auto& [kind, at] : events) {
      int c = at == "0" ? 1 : CompareDebianVersions(version, at);
      if (kind == "introduced" && c >= 0) {
        affected_now = true;
      } else if (kind == "fixed" && c >= 0) {
        affected_now = false;
      } else if (kind == "last_affected" && c > 0) {
        affected_now = false;
      }
    }
    if (affected_now) {
      return true;
    }
  }
  return false;
}

std::vector<VulnerabilityMatch> VulnerabilityDatabase::Match(
    const std::map<std::string, std::string>& software) const {
  std::vector<VulnerabilityMatch> out;
  for (const auto& [package, version] : software) {
    std::set<size_t> seen;
    auto [begin, end] = by_package_.equal_range(package);
    for (auto it = begin; it != end; ++it) {
      const Affected& affected = it->second;
      if (seen.count(affected.advisory) == 0 && Affects(affected, version)) {
        seen.insert(affected.advisory);
        out.push_back({advisories_[affected.advisory].id, package, version, affected.severity});
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const VulnerabilityMatch& a, const VulnerabilityMatch& b) {
    return a.severity != b.severity ? a.severity > b.severity : a.id < b.id;
  });
  return out;
}

}  // namespace shadowfleet

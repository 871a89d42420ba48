#include "shadowfleet/eval/nab_corpus.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include <nlohmann/json.hpp>

#include "shadowfleet/common/files.h"
#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/eval/timestamp.h"

namespace shadowfleet {
namespace {

namespace fs = std::filesystem;

constexpr const char* kLabelsFile = "labels/combined_windows.json";
constexpr const char* kProfilesFile = "profiles.json";
constexpr const char* kStandardProfiles[] = {"standard", "reward_low_FP_rate",
                                             "reward_low_FN_rate"};

absl::Status FileError(const std::string& file, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(file, ": ", message));
}

// Parses a JSON file; a syntax error names the line it is on.
absl::StatusOr<nlohmann::json> ReadJson(const std::string& path) {
  SF_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    size_t end = std::min(e.byte, text.size());
    int64_t line = 1 + std::count(text.begin(), text.begin() + static_cast<long>(end), '\n');
    std::string what = e.what();
    size_t detail = what.find("] ");
    return absl::InvalidArgumentError(absl::StrCat(
        path, ":", line,
        ": malformed JSON: ", detail == std::string::npos ? what : what.substr(detail + 2)));
  }
}

absl::StatusOr<std::vector<NabProfile>> ParseProfiles(const std::string& path,
                                                      const nlohmann::json& doc) {
  if (!doc.is_object() || doc.empty()) {
    return FileError(path,
                     "expected an object of profiles, e.g. {\"standard\": "
                     "{\"CostMatrix\": {\"tpWeight\": 1, \"fnWeight\": 1, "
                     "\"fpWeight\": 0.11}}}");
  }
  std::vector<NabProfile> profiles;
  for (const auto& [name, body] : doc.items()) {
    NabProfile p{name};
    const nlohmann::json* matrix =
        body.is_object() && body.contains("CostMatrix") ? &body["CostMatrix"] : nullptr;
    for (auto [key, weight] : {std::pair{"tpWeight", &p.tp_weight},
                               {"fnWeight", &p.fn_weight},
                               {"fpWeight", &p.fp_weight}}) {
      if (matrix == nullptr || !matrix->is_object() || !matrix->contains(key) ||
          !(*matrix)[key].is_number()) {
        return FileError(path, absl::StrCat("profile \"", name, "\": CostMatrix.", key,
                                            " is missing or not a number"));
      }
      *weight = (*matrix)[key].get<double>();
    }
    profiles.push_back(std::move(p));
  }

  // The three NAB profiles first, in NAB's order; any others after them by name.
  auto rank = [](const std::string& name) {
    auto it = std::find(std::begin(kStandardProfiles), std::end(kStandardProfiles), name);
    return static_cast<int>(it - std::begin(kStandardProfiles));
  };
  std::stable_sort(profiles.begin(), profiles.end(), [&](const NabProfile& a, const NabProfile& b) {
    return std::pair(rank(a.name), a.name) < std::pair(rank(b.name), b.name);
  });
  return profiles;
}

// The "<category>/<file>.csv" names of the CSV files under data/.
absl::StatusOr<std::set<std::string>> ListDataFiles(const std::string& data_dir) {
  std::error_code ec;
  fs::directory_iterator categories(data_dir, ec);
  if (ec) {
    return absl::NotFoundError(absl::StrCat(data_dir, ": cannot list: ", ec.message()));
  }
  std::set<std::string> names;
  for (const fs::directory_entry& category : categories) {
    if (!category.is_directory()) {
      continue;
    }
    fs::directory_iterator files(category.path(), ec);
    if (ec) {
      return absl::NotFoundError(
          absl::StrCat(category.path().string(), ": cannot list: ", ec.message()));
    }
    for (const fs::directory_entry& file : files) {
      if (file.is_regular_file() && file.path().extension() == ".csv") {
        names.insert(category.path().filename().string() + "/" + file.path().filename().string());
      }
    }
  }
  return names;
}

// Maps the label windows of `file` onto its rows.
absl::Status MapWindows(const std::string& labels_path, const nlohmann::json& windows,
                        NabFile& file) {
  auto bad = [&](size_t k, absl::string_view why) {
    return FileError(labels_path, absl::StrCat("\"", file.name, "\": window ", k + 1, " ", why));
  };
  if (!windows.is_array()) {
    return FileError(labels_path,
                     absl::StrCat("\"", file.name, "\": expected a list of [start, end] windows"));
  }
  const std::vector<double>& times = file.series.times;
  for (size_t k = 0; k < windows.size(); ++k) {
    const nlohmann::json& w = windows[k];
    if (!w.is_array() || w.size() != 2 || !w[0].is_string() || !w[1].is_string()) {
      return bad(k, "is not a [start, end] pair of timestamp strings");
    }
    NabWindow window{w[0].get<std::string>(), w[1].get<std::string>()};
    absl::StatusOr<double> start = ParseTimestamp(window.start);
    absl::StatusOr<double> end = ParseTimestamp(window.end);
    if (!start.ok() || !end.ok()) {
      return bad(k, (start.ok() ? end : start).status().message());
    }

    int64_t n = static_cast<int64_t>(times.size());
    int64_t first = n;
    int64_t exact_end = -1;
    int64_t last_before_end = -1;
    for (int64_t i = 0; i < n; ++i) {
      if (first == n && times[i] >= *start) {
        first = i;
      }
      if (exact_end < 0 && times[i] == *end) {
        exact_end = i;
      }
      if (times[i] < *end) {
        last_before_end = i;
      }
    }
    window.first_row = first;
    window.last_row = exact_end >= 0 ? exact_end : last_before_end;
    if (first == n || window.last_row < first) {
      return bad(k, absl::StrCat("[", window.start, ", ", window.end, "] covers no row of ",
                                 file.series.path));
    }
    file.windows.push_back(std::move(window));
  }

  std::sort(file.windows.begin(), file.windows.end(),
            [](const NabWindow& a, const NabWindow& b) { return a.first_row < b.first_row; });
  for (size_t k = 1; k < file.windows.size(); ++k) {
    if (file.windows[k].first_row <= file.windows[k - 1].last_row) {
      return FileError(labels_path,
                       absl::StrCat("\"", file.name, "\": windows [", file.windows[k - 1].start,
                                    ", ", file.windows[k - 1].end, "] and [", file.windows[k].start,
                                    ", ", file.windows[k].end, "] overlap"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

int64_t NabCorpus::rows() const {
  int64_t total = 0;
  for (const NabFile& f : files) {
    total += static_cast<int64_t>(f.series.size());
  }
  return total;
}

int64_t NabProbationRows(int64_t rows) {
  constexpr double kFraction = 0.15;
  constexpr double kLongestFile = 5000;
  return static_cast<int64_t>(
      std::min(std::floor(kFraction * static_cast<double>(rows)), kFraction * kLongestFile));
}

absl::StatusOr<NabCorpus> LoadNabCorpus(const std::string& root) {
  NabCorpus corpus;
  corpus.root = root;
  std::string profiles_path = absl::StrCat(root, "/", kProfilesFile);
  std::string labels_path = absl::StrCat(root, "/", kLabelsFile);
  SF_ASSIGN_OR_RETURN(nlohmann::json profiles, ReadJson(profiles_path));
  SF_ASSIGN_OR_RETURN(corpus.profiles, ParseProfiles(profiles_path, profiles));
  SF_ASSIGN_OR_RETURN(nlohmann::json labels, ReadJson(labels_path));
  if (!labels.is_object()) {
    return FileError(labels_path, "expected an object {\"<category>/<file>.csv\": [windows]}");
  }
  SF_ASSIGN_OR_RETURN(std::set<std::string> data_files, ListDataFiles(root + "/data"));

  // Both directions, so that a typo in either place is reported instead of silently scoring
  // a file as anomaly-free or skipping it.
  for (const std::string& name : data_files) {
    if (!labels.contains(name)) {
      return FileError(labels_path, absl::StrCat("has no entry for data/", name,
                                                 " (use [] for a file without anomalies)"));
    }
  }
  for (const auto& [name, windows] : labels.items()) {
    std::vector<std::string> parts = absl::StrSplit(name, '/');
    if (parts.size() != 2 || parts[0].empty() || parts[0] == ".." ||
        !absl::EndsWith(parts[1], ".csv")) {
      return FileError(labels_path,
                       absl::StrCat("key \"", name, "\" is not of the form <category>/<file>.csv"));
    }
    if (!data_files.contains(name)) {
      return FileError(labels_path,
                       absl::StrCat("names ", name, " but data/", name, " does not exist"));
    }
    NabFile file{name, parts[0]};
    SF_ASSIGN_OR_RETURN(file.series, ReadSeries(absl::StrCat(root, "/data/", name)));
    file.probation_rows = NabProbationRows(static_cast<int64_t>(file.series.size()));
    SF_RETURN_IF_ERROR(MapWindows(labels_path, windows, file));
    corpus.files.push_back(std::move(file));
  }
  std::sort(corpus.files.begin(), corpus.files.end(),
            [](const NabFile& a, const NabFile& b) { return a.name < b.name; });
  return corpus;
}

}  // namespace shadowfleet

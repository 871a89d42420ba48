// Writes small NAB-layout corpora into a test's temporary directory: data/<category>/<file>.csv
// with one row a minute, labels/combined_windows.json and profiles.json.
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace shadowfleet::testing {

inline constexpr int64_t kCorpusStart = 1420070400;  // 2015-01-01 00:00:00 UTC

// "2015-01-01 00:07:00" for row 7.
inline std::string RowTime(int64_t row) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(kCorpusStart + 60 * row),
                          absl::UTCTimeZone());
}

inline void WriteText(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// A file of `rows` rows with value = row number.
inline std::string SeriesCsv(int64_t rows) {
  std::string csv = "timestamp,value\n";
  for (int64_t i = 0; i < rows; ++i) {
    absl::StrAppend(&csv, RowTime(i), ",", i, "\n");
  }
  return csv;
}

inline const char* kNabProfilesJson = R"({
  "standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11,
                              "tnWeight": 1.0}},
  "reward_low_FP_rate": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22,
                                        "tnWeight": 1.0}},
  "reward_low_FN_rate": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11,
                                        "tnWeight": 1.0}}
})";

struct TestFile {
  std::string name;  // "<category>/<file>.csv"
  int64_t rows;
  std::vector<std::pair<int64_t, int64_t>> windows;  // Inclusive row ranges.
};

// Writes the corpus under `root`; windows are written as NAB does, with ".000000".
inline void WriteCorpus(const std::string& root, const std::vector<TestFile>& files) {
  std::string labels = "{\n";
  for (size_t f = 0; f < files.size(); ++f) {
    WriteText(root + "/data/" + files[f].name, SeriesCsv(files[f].rows));
    absl::StrAppend(&labels, "  \"", files[f].name, "\": [");
    for (size_t w = 0; w < files[f].windows.size(); ++w) {
      absl::StrAppend(&labels, w > 0 ? ", " : "", "[\"", RowTime(files[f].windows[w].first),
                      ".000000\", \"", RowTime(files[f].windows[w].second), ".000000\"]");
    }
    absl::StrAppend(&labels, "]", f + 1 < files.size() ? ",\n" : "\n");
  }
  labels += "}\n";
  WriteText(root + "/labels/combined_windows.json", labels);
  WriteText(root + "/profiles.json", kNabProfilesJson);
}

}  // namespace shadowfleet::testing

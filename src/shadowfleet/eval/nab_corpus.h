// A labelled anomaly-detection corpus in the Numenta Anomaly Benchmark (NAB) layout:
//
//   <root>/data/<category>/<file>.csv      timestamp,value rows
//   <root>/labels/combined_windows.json    {"<category>/<file>.csv": [[start, end], ...]}
//   <root>/profiles.json                   {"<profile>": {"CostMatrix": {"tpWeight": ...}}}
//
// Any category name is accepted; every data file needs a labels entry ([] when it has no
// anomalies) and every labels entry a data file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "shadowfleet/eval/series.h"

namespace shadowfleet {

// The weights of one scoring profile.
struct NabProfile {
  std::string name;
  double tp_weight = 1.0;
  double fn_weight = 1.0;
  double fp_weight = 0.11;
};

// An anomaly window mapped onto rows: [first_row, last_row], inclusive. `first_row` is the
// first row at or after `start`; `last_row` is the first row whose time equals `end` or, when
// no row has exactly that time, the last row before it.
struct NabWindow {
  std::string start;
  std::string end;
  int64_t first_row = 0;
  int64_t last_row = 0;

  int64_t width() const { return last_row - first_row + 1; }
};

struct NabFile {
  std::string name;  // "<category>/<file>.csv", as in the labels.
  std::string category;
  Series series;
  std::vector<NabWindow> windows;  // Ordered by row, not overlapping.
  int64_t probation_rows = 0;      // Leading rows that are not scored at all.
};

struct NabCorpus {
  std::string root;
  std::vector<NabProfile> profiles;  // standard, reward_low_FP_rate, reward_low_FN_rate first.
  std::vector<NabFile> files;        // Sorted by name.

  int64_t rows() const;
};

// The rows NAB leaves unscored at the start of a file of `rows` rows: 15 %, at most 750.
int64_t NabProbationRows(int64_t rows);

// Loads and checks a whole corpus. INVALID_ARGUMENT naming the file (and line, for CSV and
// JSON) for anything malformed: a data row, JSON syntax, a window that is not a [start, end]
// pair of timestamps, a window outside its file's rows or overlapping another, a data file
// without labels or labels without a data file, a profile without its three weights.
// NOT_FOUND when a required file or directory is missing.
absl::StatusOr<NabCorpus> LoadNabCorpus(const std::string& root);

}  // namespace shadowfleet

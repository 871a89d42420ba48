// A metric series read from a CSV file with `timestamp` and `value` columns (and possibly
// others, kept as they are), and the anomaly scores a detector wrote for one.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace shadowfleet {

// One row per non-blank line after the header, in file order.
struct Series {
  std::string path;
  std::string header;                   // The header line as read.
  std::vector<std::string> lines;       // Each row as read, to write it back with more columns.
  std::vector<int> line_numbers;        // 1-based, for messages.
  std::vector<std::string> timestamps;  // As written.
  std::vector<double> times;            // Unix seconds.
  std::vector<double> values;           // NaN for a missing value.

  size_t size() const { return values.size(); }
};

// Reads `path`. A value may be empty, "nan" or "null" (a missing sample); anything else must
// be a finite number. INVALID_ARGUMENT "path:line: what is wrong" for a missing column, a
// malformed timestamp or value; NOT_FOUND if the file cannot be opened.
absl::StatusOr<Series> ReadSeries(const std::string& path);

// Reads the `anomaly_score` column of `path`, a score file written for `series` (same rows,
// same timestamps, in the same order). A missing score (empty, "nan") counts as 0.
// INVALID_ARGUMENT naming the file and line for a different number of rows, a timestamp that
// differs from the series' or a score that is not a number.
absl::StatusOr<std::vector<double>> ReadScores(const std::string& path, const Series& series);

// A column to add to a series when writing it back: one value per row.
struct ExtraColumn {
  std::string name;
  const std::vector<double>* values;
};

// The series' original text with `columns` appended to the header and to every row; values
// are written in the shortest form that reads back exactly.
std::string WriteSeriesWithColumns(const Series& series, const std::vector<ExtraColumn>& columns);

// The shortest decimal text that reads back as exactly `value` ("nan" for NaN).
std::string ExactDecimal(double value);

}  // namespace shadowfleet

// Reading NASA's C-MAPSS turbofan data (run-to-failure training fleets, truncated test fleets
// and the test fleet's true remaining life) from the CSV conversion it is usually shared in.
//
// A data file has a header row and one row per engine (unit) and cycle:
//   unit, cycle, three operating settings, then one column per sensor.
// Columns are recognised by position, whatever their names; a column named RUL (the remaining
// life some conversions add to training files) is ignored, since remaining life is derived
// from the run-to-failure cycles. A unit's rows must be together and in increasing cycle order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace shadowfleet {

inline constexpr int kCmapssSettings = 3;

struct CmapssUnit {
  int64_t id = 0;
  std::vector<double> cycles;
  std::vector<double> settings;  // cycles x kCmapssSettings, row-major.
  std::vector<double> sensors;   // cycles x sensor count, row-major.
  std::vector<int> lines;        // The file line of each row, for messages.

  size_t rows() const { return cycles.size(); }
};

struct CmapssSet {
  std::string path;
  std::vector<std::string> sensor_names;
  std::vector<CmapssUnit> units;  // In file order.

  size_t rows() const;
  // The units at `indices`, in that order.
  CmapssSet Subset(const std::vector<size_t>& indices) const;
};

// INVALID_ARGUMENT "path:line: problem" for a short header, a field that is not a finite
// number, a unit whose rows are split up, or cycles that do not increase; NOT_FOUND if the
// file cannot be opened.
absl::StatusOr<CmapssSet> ReadCmapssCsv(const std::string& path);

// The true remaining life of each test unit, one number per line in unit order. The count
// must be `units`. INVALID_ARGUMENT "path:line: problem" for a value that is not a
// non-negative number, or naming both counts when they differ.
absl::StatusOr<std::vector<double>> ReadRulFile(const std::string& path, size_t units);

}  // namespace shadowfleet

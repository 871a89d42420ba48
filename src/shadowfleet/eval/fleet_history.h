// A fleet's history in files, for training and scoring risk models offline (docs/prediction.md,
// "Training on your own data"):
//
//   metrics file   instance,timestamp,<metric>,<metric>...   one row per instance and time;
//                  an empty value (or nan) is a sample not taken
//   failures file  instance,timestamp[,kind]                  one row per failure; kind
//                  "switched_out" marks an instance replaced before it failed (censoring)
//
// Timestamps take every form eval/timestamp.h reads (ISO 8601, "YYYY-MM-DD hh:mm:ss", unix
// seconds). Each instance's metric rows must be in time order; instances may interleave.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace shadowfleet {

struct MetricRow {
  int line = 0;
  std::string timestamp;  // As written.
  absl::Time at;
  std::vector<double> values;  // One per metric; NaN when not taken.
};

struct FleetMetrics {
  std::string path;
  std::vector<std::string> metrics;  // Column names after instance and timestamp.
  std::map<std::string, std::vector<MetricRow>> instances;
  absl::Time end = absl::InfinitePast();  // The newest timestamp.

  size_t rows() const;
};

struct FleetEvent {
  int line = 0;
  std::string instance;
  absl::Time at;
  std::string kind;  // "failure" when the column is absent or empty.
};

inline constexpr char kSwitchedOutKind[] = "switched_out";

// INVALID_ARGUMENT "path:line: problem" for a missing instance or timestamp column, a bad
// timestamp or value, or rows of an instance out of time order; NOT_FOUND if the file cannot
// be opened.
absl::StatusOr<FleetMetrics> ReadFleetMetrics(const std::string& path);

// Events sorted by time. Same errors as ReadFleetMetrics.
absl::StatusOr<std::vector<FleetEvent>> ReadFleetEvents(const std::string& path);

}  // namespace shadowfleet

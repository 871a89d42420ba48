// The age hazard of the risk prior, measured on the Los Alamos National Laboratory failure
// records 1996-2005 (LA-UR-05-7318: one row per failure, with the node's system, its install,
// production and decommission months, and when the problem started and was fixed).
//
// Exposure is counted per cohort (the nodes of one system that entered production together):
// nodes x the time from production to decommission (or to the end of the records). Failures
// are placed at the node's age when they started. From those come
//   - the failure rate per node-year in age bands (the prior embeds these),
//   - a power-law (Crow-AMSAA) fit of the cumulative failures per node, lambda * age^beta
//     (beta < 1: the hazard falls with age, beta > 1: it rises),
//   - the rate of a node's next failure in windows after a repair, relative to the overall
//     rate (failures cluster: a node just repaired is more likely to fail again).
//
// Example:
//   absl::StatusOr<std::vector<LanlFailure>> records = ReadLanlFailures(path);
//   nlohmann::json fit = FitLanlHazard(*records, {});
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include <nlohmann/json.hpp>

namespace shadowfleet {

struct LanlFailure {
  int line = 0;
  int system = 0;
  std::string machine_type;  // "cluster", "smp", "numa" or empty.
  double nodes = 0;          // Nodes in the system.
  double processors_per_node = 0;
  int node = -1;  // Node number within the system; -1 when not recorded.
  // The node's production and decommission months, placed at their 15th (the records give no
  // day); InfinitePast when not recorded ("before tracking"), InfiniteFuture for "current".
  absl::Time production = absl::InfinitePast();
  absl::Time decommission = absl::InfinitePast();
  absl::Time started;
  absl::Time fixed;
  std::string cause;  // The root-cause category column that is filled in.
};

// INVALID_ARGUMENT "path:line: problem" for a malformed date or number; NOT_FOUND if the file
// cannot be opened. Rows without a system size or production month are kept; the fit skips
// them.
absl::StatusOr<std::vector<LanlFailure>> ReadLanlFailures(const std::string& path);

struct LanlFitOptions {
  // Only nodes with at most this many processors: small commodity servers, the kind a fleet
  // instance runs on, not 128-way SMP machines whose failure rate grows with their size.
  double max_processors_per_node = 4;
  // Upper ends of the age bands in years (the last band is open).
  std::vector<double> band_ends = {1.0 / 12, 3.0 / 12, 6.0 / 12, 1, 2, 3};
  // Windows after a repair, for the clustering of failures.
  std::vector<absl::Duration> after_repair = {absl::Hours(1), absl::Hours(24), absl::Hours(24 * 7),
                                              absl::Hours(24 * 30)};
};

// Fits the hazard figures described above. The JSON has "overall" (failures, node-years,
// rate), "bands" (per age band: failures, node-years, rate per node-year and per hour, 95 %
// interval), "powerLaw" (beta, lambda per node-year^beta), "afterRepair" (per window: rate and
// its ratio to the overall rate) and "data" (records used and why others were left out).
nlohmann::json FitLanlHazard(const std::vector<LanlFailure>& records,
                             const LanlFitOptions& options);

}  // namespace shadowfleet

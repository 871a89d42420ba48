// A demo scenario: the fleet, the load and the degradations to inject, read from a documented
// file (kind: Scenario) so that the failures-avoided benchmark can be run on scenarios it was
// not written with. Injection times are drawn from each degradation's window with the run's
// seed, so a scenario and a seed give the same run.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace shadowfleet {

inline constexpr char kScenarioKind[] = "Scenario";

struct DegradationSpec {
  std::string mode;  // As the workload's /admin/degrade takes it: memory_leak, latency_creep ...
  int count = 1;     // How many instances get it (each at its own random time).
  double rate = 0;
  double seconds = 60;
  double ceiling_ms = 2000;
  absl::Duration window_start = absl::Seconds(60);  // Injection times are drawn from
  absl::Duration window_end = absl::Seconds(300);   // [start, end] after the run starts.
};

struct Scenario {
  std::string name = "built-in";
  int instances = 6;
  absl::Duration duration = absl::Minutes(8);
  double request_rate = 300;
  int memory_limit_mb = 256;
  int disk_quota_mb = 64;
  std::vector<DegradationSpec> degradations;
};

// The scenario `shadowfleet demo` runs without --scenario: one of each kind of degradation.
Scenario BuiltInScenario();

// Parses a Scenario document; errors name the file, line, column and field.
absl::StatusOr<Scenario> ParseScenario(const std::string& text, const std::string& file);
absl::StatusOr<Scenario> LoadScenario(const std::string& path);

// When a replica given `spec` at time 0 fails, by the workload's own rules, in seconds; the
// ground truth for lead times. Infinity for a degradation that never ends in failure.
double ExpectedFailureSeconds(const DegradationSpec& spec, const Scenario& scenario);

// True for degradations that show warning signs before failing (all but sudden_crash).
bool GivesWarning(const DegradationSpec& spec);

}  // namespace shadowfleet

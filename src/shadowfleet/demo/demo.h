// `shadowfleet demo`: the whole loop on the embedded default, narrated in the terminal. A
// daemon runs in-process with SQLite state; a local fleet of real shadowfleet-workload
// processes, each with its shadow, serves traffic from the load generator through a real
// HAProxy; degradations from a scenario are injected into live instances at random times.
// The terminal shows risk rising, switchovers stepping, rollbacks and failovers as they
// happen (the daemon's API serves the same), and the run ends with a summary and, on request,
// a JSON report — the failures-avoided benchmark runs this with --mode act and --mode watch.
#pragma once

#include <string>

namespace shadowfleet {

struct DemoOptions {
  std::string listen = "127.0.0.1:7070";
  std::string state_dir;      // Empty: a fresh temporary directory.
  std::string scenario_file;  // Empty: the built-in scenario.
  uint64_t seed = 1;
  double duration_seconds = 0;  // 0: the scenario's.
  std::string mode = "act";     // "act": shadowfleet switches over; "watch": it only watches.
  std::string report_file;      // Where to write the JSON report, if anywhere.
  bool keep_running = false;    // Keep the fleet and the API up until Ctrl-C.
  bool quiet = false;           // Only the summary.
};

int RunDemo(const DemoOptions& options);

}  // namespace shadowfleet

// `shadowfleet demo`: the whole Shadow Fleet Manager loop on the embedded default, narrated
// in the terminal. A daemon runs in-process with SQLite state, a local fleet of real
// shadowfleet-workload processes comes up with a shadow each, and the demo then patches the
// fleet, patches one live instance behind shadowfleet's back, and breaks a shadow, showing
// readiness as the Shadow Fleet Manager recovers from each.
#pragma once

#include <string>

namespace shadowfleet {

struct DemoOptions {
  std::string listen = "127.0.0.1:7070";
  std::string state_dir;  // Empty: a fresh temporary directory.
  int instances = 6;
  bool keep_running = false;  // Keep the fleet and the API up until Ctrl-C.
};

int RunDemo(const DemoOptions& options);

}  // namespace shadowfleet

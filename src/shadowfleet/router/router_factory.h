// Building the router a group's spec names. One router serves one group; RouterSet
// (router_set.h) keeps them and rebuilds one when its spec changes.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"

#include "shadowfleet/router/router.h"
#include "shadowfleet/spec/fleet_spec.h"

namespace shadowfleet {

// What a router may need from its host daemon.
struct RouterEnvironment {
  std::string state_dir;  // The daemon's state directory: "{state}" in exec plug-in settings.
  std::string bin_dir;    // Directory of the shadowfleet executable: "{bin}".
};

// Builds the router for `group.router`. INVALID_ARGUMENT for an unknown router name, settings
// of another router's kind, or haproxy settings out of range.
absl::StatusOr<std::unique_ptr<Router>> MakeRouter(const GroupSpec& group,
                                                   const RouterEnvironment& environment);

}  // namespace shadowfleet

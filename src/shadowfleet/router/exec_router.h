// The exec router: runs a plug-in program for every router operation, so that any load
// balancer with a command line or an API (a cloud load balancer, nginx, Envoy, a hardware
// appliance) can carry shadowfleet's traffic switches. The protocol is the exec provider's
// (docs/exec-protocol.md, "Routers"):
//
//   argv:   the group's router settings.command, then the operation name (no shell involved)
//   stdin:  one JSON object, the request
//   stdout: one JSON object, the response
//   exit 0 on success; otherwise the response may carry {"error": "..."} and stderr is kept
//
// Operations: ensure, set-weights, drain, remove, read.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shadowfleet/router/router.h"
#include "shadowfleet/router/router_factory.h"
#include "shadowfleet/spec/fleet_spec.h"

namespace shadowfleet {

// Thread-safe: every call runs its own process.
//
// Errors: UNAVAILABLE when the plug-in cannot be run, times out or exits non-zero;
// INVALID_ARGUMENT for a weight outside 0..100 or a response that is not what the protocol
// says; FAILED_PRECONDITION when the weights read back after set-weights differ from those
// set.
class ExecRouter : public Router {
 public:
  ExecRouter(std::string group, ExecRouterSettings settings, RouterEnvironment environment);

  const char* name() const override { return "exec"; }
  absl::Status Ensure(const Backend& backend, int weight_percent) override;
  absl::Status SetWeights(const std::vector<std::pair<Backend, int>>& weights) override;
  absl::Status Drain(const Backend& backend) override;
  absl::Status Remove(const Backend& backend) override;
  absl::StatusOr<std::vector<BackendState>> Read(const std::vector<Backend>& backends) override;

  // Runs one operation of the plug-in: the protocol itself, public for tests.
  absl::StatusOr<nlohmann::json> Call(const std::string& operation, nlohmann::json request) const;

 private:
  const std::string group_;
  const ExecRouterSettings settings_;
  const RouterEnvironment environment_;
};

}  // namespace shadowfleet

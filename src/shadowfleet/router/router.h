// Traffic routers: how shadowfleet moves an instance's traffic between its live replica and
// its shadow. Each instance owns one slot of its group's load-balancer pool; a router splits
// that slot's share between the two replicas (100/0 normally, 90/10 at the first canary step,
// 0/100 once promoted), so that other instances' traffic is never affected.
//
// Implementations: haproxy (a real HAProxy driven through its runtime API), exec (a plug-in,
// as for providers), none (the provider switches traffic itself, e.g. a simulated fleet).
// All are thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace shadowfleet {

// One replica as the load balancer sees it.
struct Backend {
  std::string name;     // The replica id; unique in the pool.
  std::string address;  // host:port.
};

// What the router reports for one backend.
struct BackendState {
  std::string name;
  std::string address;
  int weight_percent = 0;  // Share of the instance's slot, 0..100.
  bool draining = false;   // Takes no new connections.
  bool present = false;    // Known to the load balancer at all.
};

class Router {
 public:
  virtual ~Router() = default;
  virtual const char* name() const = 0;

  // Makes `backend` part of the pool with `weight_percent` of its instance's slot, adding it
  // if the load balancer does not have it. Idempotent.
  virtual absl::Status Ensure(const Backend& backend, int weight_percent) = 0;

  // Sets the weights of several backends together (a live/shadow pair during a canary step)
  // and reads them back; FAILED_PRECONDITION if the load balancer reports other weights.
  virtual absl::Status SetWeights(const std::vector<std::pair<Backend, int>>& weights) = 0;

  // Stops new connections to `backend` (existing ones finish).
  virtual absl::Status Drain(const Backend& backend) = 0;

  // Takes `backend` out of the pool. Idempotent.
  virtual absl::Status Remove(const Backend& backend) = 0;

  // The current state of each named backend, as the load balancer reports it.
  virtual absl::StatusOr<std::vector<BackendState>> Read(const std::vector<Backend>& backends) = 0;
};

}  // namespace shadowfleet

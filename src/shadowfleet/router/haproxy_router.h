// The haproxy router: drives a real HAProxy (2.5 or later; tested with 2.6) through its
// runtime API. Each replica is a server of the group's backend named after the replica id;
// servers are added and deleted at runtime, so the backend needs no static servers and a
// balance algorithm that accepts dynamic servers (roundrobin, leastconn, random, ...).
//
// A weight of p percent of an instance slot is the absolute HAProxy weight
// full_weight * p / 100. Absolute, because HAProxy reads "p%" relative to the weight a server
// was configured with, which differs between servers added by different tools.
//
// Errors: UNAVAILABLE when the runtime API cannot be reached or does not answer in time;
// NOT_FOUND when HAProxy has no such backend (or server, where one must exist);
// PERMISSION_DENIED when the socket is not `level admin`; INVALID_ARGUMENT for names or
// addresses that cannot be sent safely; FAILED_PRECONDITION for other refusals, and when
// weights read back differ; UNKNOWN for replies it cannot parse. Remove() gives UNAVAILABLE
// when the server still has requests running after a few seconds in maintenance (it stays in
// maintenance; calling Remove() again finishes the job). Messages carry HAProxy's own words.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

#include "shadowfleet/router/haproxy_runtime_api.h"
#include "shadowfleet/router/router.h"
#include "shadowfleet/spec/fleet_spec.h"

namespace shadowfleet {

// Thread-safe; calls on the same server should not overlap (the reconcilers never do that).
class HaproxyRouter : public Router {
 public:
  // A full_weight outside 1..256 is clamped into it (MakeRouter() rejects one instead).
  explicit HaproxyRouter(HaproxyRouterSettings settings);

  const char* name() const override { return "haproxy"; }
  absl::Status Ensure(const Backend& backend, int weight_percent) override;
  absl::Status SetWeights(const std::vector<std::pair<Backend, int>>& weights) override;
  absl::Status Drain(const Backend& backend) override;
  absl::Status Remove(const Backend& backend) override;
  absl::StatusOr<std::vector<BackendState>> Read(const std::vector<Backend>& backends) override;

  // The absolute HAProxy weight of `weight_percent` of an instance slot.
  int AbsoluteWeight(int weight_percent) const;

 private:
  // What a successful reply to a command looks like; anything else is HAProxy refusing.
  enum class Expect {
    kEmpty,          // set weight, set server state, enable server/health
    kAdded,          // add server
    kDeleted,        // del server
    kAddressChange,  // set server addr
  };
  static bool Succeeded(absl::string_view reply, Expect expect);

  // Sends `command` and turns an error reply into a status carrying HAProxy's words.
  absl::Status Run(const std::string& command, Expect expect) const;
  absl::Status ReplyError(const std::string& command, absl::string_view reply) const;

  // The backend's servers, by `show servers state`.
  absl::StatusOr<std::vector<HaproxyServerState>> Servers() const;

  // `ip` is numeric: the runtime API resolves no names.
  absl::Status AddServer(const std::string& server, const std::string& ip, int port,
                         int weight) const;
  absl::Status UpdateServer(const HaproxyServerState& current, const std::string& ip, int port,
                            int weight) const;
  absl::StatusOr<int> GetWeight(const std::string& server) const;

  // Absolute weights by server name, in the order to set them.
  using ServerWeights = std::vector<std::pair<std::string, int>>;
  // Converts `weights` and orders them raised first; NOT_FOUND for a server HAProxy lacks.
  absl::StatusOr<ServerWeights> OrderWeights(
      const std::vector<std::pair<Backend, int>>& weights) const;
  // Reads every weight back; FAILED_PRECONDITION naming those that differ.
  absl::Status VerifyWeights(const ServerWeights& expected) const;

  BackendState ToBackendState(const HaproxyServerState& server) const;
  std::string Path(const std::string& server) const { return settings_.backend + "/" + server; }

  const HaproxyRouterSettings settings_;
  const HaproxyRuntimeApi api_;
};

}  // namespace shadowfleet

// A HAProxy of the demo's own: a child process started in the foreground (-db) with a
// generated configuration — a frontend on a loopback port, one backend with no static servers
// (shadowfleet adds the replicas at run time through the runtime API on a unix socket) — and
// stopped with the demo. Production fleets bring their own HAProxy; docs/haproxy.md says what
// its configuration needs.
#pragma once

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"

namespace shadowfleet {

class LocalHaproxy {
 public:
  LocalHaproxy() = default;
  LocalHaproxy(const LocalHaproxy&) = delete;
  LocalHaproxy& operator=(const LocalHaproxy&) = delete;
  ~LocalHaproxy();

  // Writes the configuration into `dir` and starts HAProxy with its frontend on
  // `frontend_port` (0: a free port). Fails with NOT_FOUND if haproxy is not installed and
  // UNAVAILABLE if it does not answer on its runtime API within 10 s.
  absl::Status Start(const std::string& dir, const std::string& backend, int frontend_port = 0);
  void Stop();

  std::string socket() const { return "unix:" + socket_path_; }
  int frontend_port() const { return frontend_port_; }

 private:
  pid_t pid_ = 0;
  std::string socket_path_;
  int frontend_port_ = 0;
};

// The haproxy executable (it lives in /usr/sbin, which is not on every user's PATH), or "".
std::string FindHaproxy();

}  // namespace shadowfleet

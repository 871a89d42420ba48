// Real servers for the router and load-generator tests, each a child process stopped with its
// process group when the object goes: the project's workload (a small HTTP server answering
// "<message> from ..." on /) and HAProxy with a backend that has no static servers. Ports are
// picked free just before use. These helpers use the wall clock on purpose: they wait for
// real processes.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "testing/build_paths.h"

#include "shadowfleet/common/http_client.h"
#include "shadowfleet/common/subprocess.h"
#include "shadowfleet/router/haproxy_runtime_api.h"

namespace shadowfleet::testing {

// Polls `condition` every 10 ms for at most `limit`.
inline bool WaitFor(const std::function<bool()>& condition,
                    absl::Duration limit = absl::Seconds(10)) {
  absl::Time deadline = absl::Now() + limit;
  while (!condition()) {
    if (absl::Now() > deadline) {
      return false;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

// A TCP port on 127.0.0.1 that nothing listened on a moment ago.
inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// The haproxy executable, or "" when it is not installed (it lives in /usr/sbin, which is not
// on every user's PATH).
inline std::string HaproxyBinary() {
  for (const char* candidate :
       {"/usr/sbin/haproxy", "/usr/local/sbin/haproxy", "/usr/bin/haproxy"}) {
    if (access(candidate, X_OK) == 0) {
      return candidate;
    }
  }
  absl::StatusOr<CommandResult> found = RunCommand({"sh", "-c", "command -v haproxy"});
  if (found.ok() && found->exit_code == 0 && !found->stdout_data.empty()) {
    std::string path = found->stdout_data;
    path.erase(path.find_last_not_of("\n") + 1);
    return path;
  }
  return "";
}

// A child process in its own process group, stopped on destruction.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { Stop(); }

  bool Start(const std::vector<std::string>& argv, const std::string& log_path) {
    SpawnOptions options;
    options.log_path = log_path;
    absl::StatusOr<pid_t> pid = SpawnDetached(argv, options);
    if (!pid.ok()) {
      return false;
    }
    pid_ = *pid;
    start_ticks_ = ProcessStartTicks(pid_);
    return true;
  }
  void Stop() {
    if (pid_ > 0) {
      StopProcessGroup(pid_, start_ticks_, absl::Seconds(5));
      pid_ = 0;
    }
  }
  bool running() const { return pid_ > 0 && ProcessAlive(pid_, start_ticks_); }

 private:
  pid_t pid_ = 0;
  uint64_t start_ticks_ = 0;
};

// shadowfleet-workload on a free port, answering "<message> from ..." on /.
class WorkloadProcess {
 public:
  static std::string Binary() { return BinaryDir() + "/shadowfleet-workload"; }

  // Starts it with its files in `dir`; false if it did not listen within 10 s.
  bool Start(const std::string& dir, const std::string& message) {
    port_ = FreePort();
    std::string config = absl::StrCat(dir, "/workload-", port_, ".json");
    std::ofstream(config) << R"({"config":{"message":")" << message << R"("}})";
    if (!process_.Start({Binary(), "--port", std::to_string(port_), "--config", config},
                        absl::StrCat(dir, "/workload-", port_, ".log"))) {
      return false;
    }
    // Answering HTTP, not just accepting connections: the workload ignores SIGTERM that
    // arrives between binding its port and entering its accept loop.
    return WaitFor([this] {
      absl::StatusOr<HttpResponse> health = HttpRequest("GET", "127.0.0.1", port_, "/healthz");
      return health.ok() && health->status == 200;
    });
  }
  void Stop() { process_.Stop(); }
  int port() const { return port_; }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  ChildProcess process_;
  int port_ = 0;
};

// HAProxy in the foreground (-db) with a frontend on a free port, backend "be" without static
// servers, backend "hashed" that cannot take servers at runtime (`balance source`), and the
// runtime API on a unix socket and on a TCP port, both `level admin`.
class HaproxyProcess {
 public:
  // Writes the configuration into `dir` and starts HAProxy; false (with the reason in
  // `error`) if it did not answer on its runtime API within 10 s.
  bool Start(const std::string& dir, std::string* error) {
    frontend_port_ = FreePort();
    do {
      admin_port_ = FreePort();
    } while (admin_port_ == frontend_port_);
    socket_path_ = dir + "/haproxy.sock";
    std::string config_path = dir + "/haproxy.cfg";
    log_path_ = dir + "/haproxy.log";
    std::ofstream(config_path) << Config();
    if (!process_.Start({HaproxyBinary(), "-db", "-f", config_path}, log_path_)) {
      *error = "cannot start haproxy";
      return false;
    }
    HaproxyRuntimeApi api(unix_socket(), absl::Seconds(1));
    if (!WaitFor([&api] { return api.Send("show info").ok(); })) {
      *error = "haproxy did not answer on " + unix_socket() + "; see " + log_path_;
      return false;
    }
    return true;
  }
  void Stop() { process_.Stop(); }

  std::string unix_socket() const { return "unix:" + socket_path_; }
  std::string tcp_socket() const { return absl::StrCat("127.0.0.1:", admin_port_); }
  int frontend_port() const { return frontend_port_; }

 private:
  std::string Config() const {
    return absl::StrCat(R"(global
  stats socket )",
                        socket_path_, R"( mode 600 level admin
  stats socket ipv4@127.0.0.1:)",
                        admin_port_, R"( level admin
defaults
  mode http
  timeout connect 1s
  timeout client 10s
  timeout server 10s
  retries 2
  option redispatch
frontend fe
  bind 127.0.0.1:)",
                        frontend_port_, R"(
  default_backend be
backend be
  balance roundrobin
  option httpchk GET /healthz
backend hashed
  balance source
)");
  }

  ChildProcess process_;
  std::string socket_path_;
  std::string log_path_;
  int frontend_port_ = 0;
  int admin_port_ = 0;
};

}  // namespace shadowfleet::testing

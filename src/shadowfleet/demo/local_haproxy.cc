#include "shadowfleet/demo/local_haproxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/common/subprocess.h"
#include "shadowfleet/router/haproxy_runtime_api.h"

namespace shadowfleet {
namespace {

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

}  // namespace

std::string FindHaproxy() {
  for (const char* path : {"/usr/sbin/haproxy", "/usr/local/sbin/haproxy", "/usr/bin/haproxy"}) {
    if (access(path, X_OK) == 0) {
      return path;
    }
  }
  return "";
}

LocalHaproxy::~LocalHaproxy() {
  Stop();
}

absl::Status LocalHaproxy::Start(const std::string& dir, const std::string& backend,
                                 int frontend_port) {
  std::string binary = FindHaproxy();
  if (binary.empty()) {
    return absl::NotFoundError("haproxy is not installed (scripts/install-deps installs it)");
  }
  std::filesystem::create_directories(dir);
  socket_path_ = dir + "/haproxy.sock";
  frontend_port_ = frontend_port != 0 ? frontend_port : FreeLoopbackPort();
  std::string config = absl::StrCat(R"(global
  stats socket )",
                                    socket_path_, R"( mode 600 level admin
  maxconn 4096
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  # A refused connection (a crashed server) is retried on another server.
  retries 3
  option redispatch
frontend fe
  bind 127.0.0.1:)",
                                    frontend_port_, R"(
  default_backend )",
                                    backend, R"(
backend )",
                                    backend, R"(
  balance roundrobin
  option httpchk GET /healthz
)");
  std::string path = dir + "/haproxy.cfg";
  std::ofstream(path) << config;
  SpawnOptions options;
  options.log_path = dir + "/haproxy.log";
  SF_ASSIGN_OR_RETURN(pid_, SpawnDetached({binary, "-db", "-f", path}, options));
  HaproxyRuntimeApi api(socket(), absl::Seconds(1));
  for (int i = 0; i < 500; ++i) {
    if (api.Send("show info").ok()) {
      return absl::OkStatus();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Stop();
  return absl::UnavailableError("haproxy did not answer on " + socket_path_ + "; see " + dir +
                                "/haproxy.log");
}

void LocalHaproxy::Stop() {
  if (pid_ > 0) {
    StopProcessGroup(pid_, 0, absl::Seconds(3));
    pid_ = 0;
  }
}

}  // namespace shadowfleet

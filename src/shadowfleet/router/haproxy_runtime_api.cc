#include "shadowfleet/router/haproxy_runtime_api.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

#include "shadowfleet/common/http_client.h"

namespace shadowfleet {
namespace {

// A reply larger than this is not something the router asked for.
constexpr size_t kMaxReplyBytes = 64 << 20;
constexpr size_t kQuoteLimit = 240;

// Closes the descriptor when the connection attempt or exchange ends, whichever way.
class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  Socket(Socket&&) = delete;
  Socket& operator=(Socket&&) = delete;
  ~Socket() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

int RemainingMillis(absl::Time deadline) {
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) {
    return 0;
  }
  return static_cast<int>(absl::ToInt64Milliseconds(left) + 1);
}

// Waits until `fd` is ready for `events` or the deadline passes.
absl::Status WaitFor(int fd, int16_t events, absl::Time deadline, absl::string_view what) {
  while (true) {
    int millis = RemainingMillis(deadline);
    if (millis == 0) {
      return absl::UnavailableError(absl::StrCat("timed out ", what));
    }
    pollfd p{fd, events, 0};
    int ready = poll(&p, 1, millis);
    if (ready > 0) {
      return absl::OkStatus();
    }
    if (ready < 0 && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
    }
  }
}

// Starts a non-blocking connect to `address` and waits for it to complete.
absl::Status ConnectWithin(int fd, const sockaddr* address, socklen_t length, absl::Time deadline) {
  if (connect(fd, address, length) == 0) {
    return absl::OkStatus();
  }
  if (errno != EINPROGRESS && errno != EAGAIN) {
    return absl::UnavailableError(std::strerror(errno));
  }
  if (absl::Status s = WaitFor(fd, POLLOUT, deadline, "connecting"); !s.ok()) {
    return s;
  }
  int error = 0;
  socklen_t error_length = sizeof(error);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_length);
  if (error != 0) {
    return absl::UnavailableError(std::strerror(error));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> ConnectUnix(const std::string& path, absl::Time deadline) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("unix socket path must have 1 to ",
                                                   sizeof(address.sun_path) - 1, " characters: \"",
                                                   path, "\""));
  }
  memcpy(address.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
  }
  absl::Status connected =
      ConnectWithin(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address), deadline);
  if (!connected.ok()) {
    close(fd);
    return connected;
  }
  return fd;
}

absl::StatusOr<int> ConnectTcp(const std::string& host, int port, absl::Time deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) {
    return absl::UnavailableError(absl::StrCat("resolving ", host, ": ", gai_strerror(rc)));
  }
  absl::Status last = absl::UnavailableError("no address");
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last = absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
      continue;
    }
    last = ConnectWithin(fd, a->ai_addr, a->ai_addrlen, deadline);
    if (last.ok()) {
      freeaddrinfo(found);
      return fd;
    }
    close(fd);
  }
  freeaddrinfo(found);
  return last;
}

absl::Status WriteAll(int fd, absl::string_view data, absl::Time deadline) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("sending: ", std::strerror(errno)));
    }
    if (absl::Status s = WaitFor(fd, POLLOUT, deadline, "sending"); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadUntilClosed(int fd, absl::Time deadline) {
  std::string reply;
  char buffer[16384];
  while (true) {
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n == 0) {
      return reply;
    }
    if (n > 0) {
      reply.append(buffer, static_cast<size_t>(n));
      if (reply.size() > kMaxReplyBytes) {
        return absl::UnavailableError("reply larger than 64 MiB");
      }
      continue;
    }
    if (errno != EAGAIN && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("reading the reply: ", std::strerror(errno)));
    }
    if (absl::Status s = WaitFor(fd, POLLIN, deadline, "waiting for the reply"); !s.ok()) {
      return s;
    }
  }
}

}  // namespace

HaproxyRuntimeApi::HaproxyRuntimeApi(std::string endpoint, absl::Duration timeout)
    : endpoint_(std::move(endpoint)), timeout_(timeout) {}

absl::StatusOr<std::string> HaproxyRuntimeApi::Send(absl::string_view command) const {
  if (command.find_first_of("\r\n") != absl::string_view::npos) {
    return absl::InvalidArgumentError("a runtime API command must be a single line");
  }
  absl::Time deadline = absl::Now() + timeout_;
  absl::StatusOr<int> fd;
  if (absl::StartsWith(endpoint_, "unix:")) {
    fd = ConnectUnix(endpoint_.substr(5), deadline);
  } else {
    absl::StatusOr<std::pair<std::string, int>> host_port = ParseHostPort(endpoint_);
    if (!host_port.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("haproxy runtime API socket must be \"unix:/path\" or \"host:port\", got \"",
                       endpoint_, "\""));
    }
    fd = ConnectTcp(host_port->first, host_port->second, deadline);
  }
  if (!fd.ok()) {
    return absl::Status(fd.status().code(), absl::StrCat("haproxy runtime API at ", endpoint_, ": ",
                                                         fd.status().message()));
  }
  Socket socket(*fd);

  // Without the interactive prompt HAProxy closes the connection once it has answered.
  absl::Status sent = WriteAll(socket.fd(), absl::StrCat(command, "\n"), deadline);
  absl::StatusOr<std::string> reply =
      sent.ok() ? ReadUntilClosed(socket.fd(), deadline) : absl::StatusOr<std::string>(sent);
  if (!reply.ok()) {
    return absl::UnavailableError(absl::StrCat("haproxy runtime API at ", endpoint_, ", \"",
                                               command, "\": ", reply.status().message()));
  }
  return reply;
}

absl::StatusOr<std::vector<HaproxyServerState>> ParseServersState(absl::string_view reply) {
  auto unexpected = [&reply](absl::string_view why) {
    return absl::UnknownError(absl::StrCat("unexpected reply to show servers state (", why, "): \"",
                                           QuoteReply(reply), "\""));
  };
  std::vector<absl::string_view> lines = absl::StrSplit(reply, '\n', absl::SkipWhitespace());
  if (lines.size() < 2 || absl::StripAsciiWhitespace(lines[0]) != "1" ||
      !absl::StartsWith(lines[1], "# ")) {
    return unexpected("not format version 1 with a header");
  }

  std::map<std::string, size_t, std::less<>> column;
  std::vector<absl::string_view> names =
      absl::StrSplit(lines[1].substr(2), ' ', absl::SkipWhitespace());
  for (size_t i = 0; i < names.size(); ++i) {
    column.emplace(std::string(names[i]), i);
  }
  for (const char* required :
       {"be_name", "srv_name", "srv_addr", "srv_port", "srv_admin_state", "srv_uweight"}) {
    if (!column.contains(required)) {
      return unexpected(absl::StrCat("no column ", required));
    }
  }

  std::vector<HaproxyServerState> servers;
  for (size_t i = 2; i < lines.size(); ++i) {
    std::vector<absl::string_view> fields = absl::StrSplit(lines[i], ' ', absl::SkipWhitespace());
    if (fields.size() < names.size()) {
      return unexpected(absl::StrCat("line ", i + 1, " has ", fields.size(), " fields, the header ",
                                     names.size()));
    }
    auto number = [&](const char* name, int* out) {
      auto it = column.find(name);
      return it == column.end() || absl::SimpleAtoi(fields[it->second], out);
    };
    HaproxyServerState server;
    server.backend = std::string(fields[column["be_name"]]);
    server.name = std::string(fields[column["srv_name"]]);
    server.address = std::string(fields[column["srv_addr"]]);
    if (!number("srv_port", &server.port) || !number("srv_op_state", &server.op_state) ||
        !number("srv_admin_state", &server.admin_state) ||
        !number("srv_uweight", &server.user_weight) ||
        !number("srv_check_state", &server.check_state)) {
      return unexpected(absl::StrCat("line ", i + 1, " has a non-numeric field"));
    }
    servers.push_back(std::move(server));
  }
  return servers;
}

std::optional<int> ParseWeightReply(absl::string_view reply) {
  std::vector<absl::string_view> words =
      absl::StrSplit(absl::StripAsciiWhitespace(reply), ' ', absl::SkipWhitespace());
  int weight = 0;
  if (words.empty() || !absl::SimpleAtoi(words[0], &weight)) {
    return std::nullopt;
  }
  return weight;
}

std::string QuoteReply(absl::string_view reply) {
  absl::string_view first_line = absl::StripAsciiWhitespace(reply.substr(0, reply.find('\n')));
  if (first_line.size() > kQuoteLimit) {
    return absl::StrCat(first_line.substr(0, kQuoteLimit), "...");
  }
  return std::string(first_line);
}

}  // namespace shadowfleet

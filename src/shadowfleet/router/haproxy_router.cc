#include "shadowfleet/router/haproxy_router.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

#include "shadowfleet/common/http_client.h"
#include "shadowfleet/common/logging.h"
#include "shadowfleet/common/status_macros.h"

namespace shadowfleet {
namespace {

// How long Remove() keeps retrying `del server` while the server still has connections.
constexpr absl::Duration kRemoveRetryFor = absl::Seconds(3);

// How HAProxy writes an address: "ip:port", "[v6]:port".
std::string FormatAddress(const std::string& ip, int port) {
  return absl::StrContains(ip, ':') ? absl::StrCat("[", ip, "]:", port)
                                    : absl::StrCat(ip, ":", port);
}

// Names are interpolated into runtime API commands, where spaces and ';' separate words and
// commands: anything outside this set could change what HAProxy is told to do.
absl::Status CheckName(absl::string_view what, const std::string& name) {
  bool safe = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
  if (!safe) {
    return absl::InvalidArgumentError(absl::StrCat(
        "haproxy ", what, " name must be letters, digits, '-', '_' or '.', got \"", name, "\""));
  }
  return absl::OkStatus();
}

absl::Status CheckPercent(int weight_percent) {
  if (weight_percent < 0 || weight_percent > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("weight must be 0..100 percent, got ", weight_percent));
  }
  return absl::OkStatus();
}

// HAProxy's runtime API takes numeric addresses only (a name given to `add server` is never
// resolved without a resolvers section), so names are resolved here, once, like HAProxy does
// for names in its configuration file. IPv4 is preferred when a name has both families:
// "localhost" may list ::1 first while replicas commonly listen on 127.0.0.1 only.
absl::StatusOr<std::pair<std::string, int>> ResolveAddress(const std::string& address) {
  SF_ASSIGN_OR_RETURN(auto host_port, ParseHostPort(address));
  std::string host = host_port.first;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(host_port.second).c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve backend address \"", address, "\": ", gai_strerror(rc)));
  }
  const addrinfo* chosen = found;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      chosen = a;
      break;
    }
  }
  std::array<char, NI_MAXHOST> numeric{};
  rc = getnameinfo(chosen->ai_addr, chosen->ai_addrlen, numeric.data(), numeric.size(), nullptr, 0,
                   NI_NUMERICHOST);
  freeaddrinfo(found);
  if (rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve backend address \"", address, "\": ", gai_strerror(rc)));
  }
  return std::make_pair(std::string(numeric.data()), host_port.second);
}

HaproxyRouterSettings WithWeightInRange(HaproxyRouterSettings settings) {
  settings.full_weight = std::clamp(settings.full_weight, 1, 256);
  return settings;
}

// In maintenance or drain by a command (or `disabled` in the configuration), which
// `state ready` lifts; maintenance inherited from a tracked server or caused by DNS resolution
// is HAProxy's own.
bool NeedsReady(const HaproxyServerState& server) {
  return (server.admin_state & (kAdminForcedMaint | kAdminConfiguredMaint | kAdminAnyDrain)) != 0;
}

// Checks configured (the server was added with `check`) but never or no longer enabled.
bool ChecksOff(const HaproxyServerState& server) {
  return (server.check_state & kCheckConfigured) != 0 && (server.check_state & kCheckEnabled) == 0;
}

absl::StatusCode CodeForReply(absl::string_view reply) {
  if (absl::StrContains(reply, "No such") || absl::StrContains(reply, "Can't find")) {
    return absl::StatusCode::kNotFound;
  }
  if (absl::StrContains(reply, "Permission denied")) {
    return absl::StatusCode::kPermissionDenied;
  }
  if (absl::StartsWith(reply, "Unknown command")) {
    return absl::StatusCode::kUnimplemented;
  }
  return absl::StatusCode::kFailedPrecondition;
}

}  // namespace

HaproxyRouter::HaproxyRouter(HaproxyRouterSettings settings)
    : settings_(WithWeightInRange(std::move(settings))),
      api_(settings_.socket, settings_.timeout) {}

int HaproxyRouter::AbsoluteWeight(int weight_percent) const {
  return static_cast<int>(std::lround(settings_.full_weight * weight_percent / 100.0));
}

bool HaproxyRouter::Succeeded(absl::string_view reply, Expect expect) {
  absl::string_view text = absl::StripAsciiWhitespace(reply);
  switch (expect) {
    case Expect::kEmpty:
      return text.empty();
    case Expect::kAdded:
      return absl::StartsWith(text, "New server registered");
    case Expect::kDeleted:
      return absl::StartsWith(text, "Server deleted");
    case Expect::kAddressChange:
      return absl::StrContains(text, "changed from") ||
             absl::StrContains(text, "no need to change");
  }
  return false;
}

absl::Status HaproxyRouter::ReplyError(const std::string& command, absl::string_view reply) const {
  std::string words = QuoteReply(reply);
  return absl::Status(CodeForReply(words),
                      absl::StrCat("haproxy backend ", settings_.backend, ": \"", command,
                                   "\": ", words.empty() ? "(empty reply)" : words));
}

absl::Status HaproxyRouter::Run(const std::string& command, Expect expect) const {
  SF_ASSIGN_OR_RETURN(std::string reply, api_.Send(command));
  if (!Succeeded(reply, expect)) {
    return ReplyError(command, reply);
  }
  Logger("router")->debug("haproxy command=\"{}\" reply=\"{}\"", command, QuoteReply(reply));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<HaproxyServerState>> HaproxyRouter::Servers() const {
  std::string command = "show servers state " + settings_.backend;
  SF_ASSIGN_OR_RETURN(std::string reply, api_.Send(command));
  if (!absl::StartsWith(reply, "1\n")) {
    return ReplyError(command, reply);
  }
  SF_ASSIGN_OR_RETURN(std::vector<HaproxyServerState> servers, ParseServersState(reply));
  std::erase_if(servers,
                [this](const HaproxyServerState& s) { return s.backend != settings_.backend; });
  return servers;
}

absl::Status HaproxyRouter::Ensure(const Backend& backend, int weight_percent) {
  SF_RETURN_IF_ERROR(CheckName("backend", settings_.backend));
  SF_RETURN_IF_ERROR(CheckName("server", backend.name));
  SF_RETURN_IF_ERROR(CheckPercent(weight_percent));
  SF_ASSIGN_OR_RETURN(auto address, ResolveAddress(backend.address));
  SF_ASSIGN_OR_RETURN(std::vector<HaproxyServerState> servers, Servers());
  int weight = AbsoluteWeight(weight_percent);
  for (const HaproxyServerState& server : servers) {
    if (server.name == backend.name) {
      return UpdateServer(server, address.first, address.second, weight);
    }
  }
  return AddServer(backend.name, address.first, address.second, weight);
}

absl::Status HaproxyRouter::AddServer(const std::string& server, const std::string& ip, int port,
                                      int weight) const {
  std::string add = absl::StrCat("add server ", Path(server), " ", FormatAddress(ip, port),
                                 " weight ", weight, settings_.health_checks ? " check" : "");
  SF_RETURN_IF_ERROR(Run(add, Expect::kAdded));

  // Servers added at runtime start in maintenance with their checks off. Should a step below
  // fail, the next Ensure() finds the server and completes it through UpdateServer().
  SF_RETURN_IF_ERROR(Run("enable server " + Path(server), Expect::kEmpty));
  if (settings_.health_checks) {
    SF_RETURN_IF_ERROR(Run("enable health " + Path(server), Expect::kEmpty));
  }
  Logger("router")->info("haproxy server added backend={} server={} address={} weight={}",
                         settings_.backend, server, FormatAddress(ip, port), weight);
  return absl::OkStatus();
}

absl::Status HaproxyRouter::UpdateServer(const HaproxyServerState& current, const std::string& ip,
                                         int port, int weight) const {
  std::string path = Path(current.name);
  if (current.address != ip || current.port != port) {
    SF_RETURN_IF_ERROR(Run(absl::StrCat("set server ", path, " addr ", ip, " port ", port),
                           Expect::kAddressChange));
    Logger("router")->info("haproxy server address changed backend={} server={} address={}",
                           settings_.backend, current.name, FormatAddress(ip, port));
  }
  if (current.user_weight != weight) {
    SF_RETURN_IF_ERROR(Run(absl::StrCat("set weight ", path, " ", weight), Expect::kEmpty));
  }
  if (NeedsReady(current)) {
    SF_RETURN_IF_ERROR(Run("set server " + path + " state ready", Expect::kEmpty));
  }
  if (settings_.health_checks && ChecksOff(current)) {
    SF_RETURN_IF_ERROR(Run("enable health " + path, Expect::kEmpty));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> HaproxyRouter::GetWeight(const std::string& server) const {
  std::string command = "get weight " + Path(server);
  SF_ASSIGN_OR_RETURN(std::string reply, api_.Send(command));
  std::optional<int> weight = ParseWeightReply(reply);
  if (!weight) {
    return ReplyError(command, reply);
  }
  return *weight;
}

absl::Status HaproxyRouter::SetWeights(const std::vector<std::pair<Backend, int>>& weights) {
  SF_RETURN_IF_ERROR(CheckName("backend", settings_.backend));
  for (const auto& [backend, percent] : weights) {
    SF_RETURN_IF_ERROR(CheckName("server", backend.name));
    SF_RETURN_IF_ERROR(CheckPercent(percent));
  }
  SF_ASSIGN_OR_RETURN(ServerWeights order, OrderWeights(weights));
  for (const auto& [server, weight] : order) {
    SF_RETURN_IF_ERROR(Run(absl::StrCat("set weight ", Path(server), " ", weight), Expect::kEmpty));
  }
  SF_RETURN_IF_ERROR(VerifyWeights(order));

  std::vector<std::string> summary;
  for (const auto& [server, weight] : order) {
    summary.push_back(absl::StrCat(server, "=", weight));
  }
  Logger("router")->info("haproxy weights set backend={} weights={}", settings_.backend,
                         absl::StrJoin(summary, ","));
  return absl::OkStatus();
}

absl::StatusOr<HaproxyRouter::ServerWeights> HaproxyRouter::OrderWeights(
    const std::vector<std::pair<Backend, int>>& weights) const {
  SF_ASSIGN_OR_RETURN(std::vector<HaproxyServerState> servers, Servers());
  std::map<std::string, int> current;
  for (const HaproxyServerState& server : servers) {
    current[server.name] = server.user_weight;
  }
  ServerWeights order;
  for (const auto& [backend, percent] : weights) {
    if (!current.contains(backend.name)) {
      return absl::NotFoundError(
          absl::StrCat("haproxy backend ", settings_.backend, " has no server ", backend.name));
    }
    order.emplace_back(backend.name, AbsoluteWeight(percent));
  }

  // Raise weights before lowering others: going from 100/0 to 0/100 the other way round would
  // leave the slot at 0/0 for a moment, and a backend holding only that pair would answer 503.
  std::stable_partition(order.begin(), order.end(), [&current](const auto& step) {
    return step.second > current.at(step.first);
  });
  return order;
}

absl::Status HaproxyRouter::VerifyWeights(const ServerWeights& expected) const {
  std::vector<std::string> differ;
  for (const auto& [server, weight] : expected) {
    SF_ASSIGN_OR_RETURN(int actual, GetWeight(server));
    if (actual != weight) {
      differ.push_back(absl::StrCat(server, " has ", actual, " instead of ", weight));
    }
  }
  if (!differ.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("haproxy backend ", settings_.backend,
                     " reports other weights than were set: ", absl::StrJoin(differ, ", ")));
  }
  return absl::OkStatus();
}

absl::Status HaproxyRouter::Drain(const Backend& backend) {
  SF_RETURN_IF_ERROR(CheckName("backend", settings_.backend));
  SF_RETURN_IF_ERROR(CheckName("server", backend.name));
  SF_RETURN_IF_ERROR(Run("set server " + Path(backend.name) + " state drain", Expect::kEmpty));
  Logger("router")->info("haproxy server draining backend={} server={}", settings_.backend,
                         backend.name);
  return absl::OkStatus();
}

absl::Status HaproxyRouter::Remove(const Backend& backend) {
  SF_RETURN_IF_ERROR(CheckName("backend", settings_.backend));
  SF_RETURN_IF_ERROR(CheckName("server", backend.name));
  absl::Status maint = Run("set server " + Path(backend.name) + " state maint", Expect::kEmpty);
  if (absl::IsNotFound(maint) && absl::StrContains(maint.message(), "No such server")) {
    return absl::OkStatus();
  }
  SF_RETURN_IF_ERROR(maint);

  // In maintenance the server takes no new requests, but `del server` refuses while requests
  // already sent to it are still running: give them a moment, then let the caller retry.
  absl::Time give_up = absl::Now() + kRemoveRetryFor;
  absl::Duration pause = absl::Milliseconds(20);
  while (true) {
    absl::Status deleted = Run("del server " + Path(backend.name), Expect::kDeleted);
    bool gone = absl::IsNotFound(deleted) && absl::StrContains(deleted.message(), "No such server");
    if (deleted.ok() || gone) {
      Logger("router")->info("haproxy server removed backend={} server={}", settings_.backend,
                             backend.name);
      return absl::OkStatus();
    }
    if (!absl::StrContains(deleted.message(), "still has connections")) {
      return deleted;
    }
    if (absl::Now() + pause > give_up) {
      return absl::UnavailableError(deleted.message());
    }
    absl::SleepFor(pause);
    pause = std::min(pause * 2, absl::Milliseconds(500));
  }
}

BackendState HaproxyRouter::ToBackendState(const HaproxyServerState& server) const {
  BackendState state;
  state.name = server.name;
  state.address = FormatAddress(server.address, server.port);
  double percent = 100.0 * server.user_weight / settings_.full_weight;
  state.weight_percent = static_cast<int>(std::clamp(std::lround(percent), 0L, 100L));
  // A server in maintenance takes no new connections either.
  state.draining = (server.admin_state & (kAdminAnyDrain | kAdminAnyMaint)) != 0;
  state.present = true;
  return state;
}

absl::StatusOr<std::vector<BackendState>> HaproxyRouter::Read(
    const std::vector<Backend>& backends) {
  SF_RETURN_IF_ERROR(CheckName("backend", settings_.backend));
  SF_ASSIGN_OR_RETURN(std::vector<HaproxyServerState> servers, Servers());
  std::vector<BackendState> out;
  for (const Backend& backend : backends) {
    auto it = std::find_if(servers.begin(), servers.end(),
                           [&backend](const auto& server) { return server.name == backend.name; });
    if (it == servers.end()) {
      out.push_back(BackendState{.name = backend.name, .present = false});
    } else {
      out.push_back(ToBackendState(*it));
    }
  }
  return out;
}

}  // namespace shadowfleet

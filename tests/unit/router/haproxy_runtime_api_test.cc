// The runtime API client and the haproxy router against a scripted stand-in for HAProxy's
// socket: replies in the real 2.6 formats, and the replies HAProxy should never give (garbage,
// silence, weights other than those set), which must become clear errors, never a crash.
#include "shadowfleet/router/haproxy_runtime_api.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "testing/temp_dir.h"

#include "shadowfleet/router/haproxy_router.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::TempDir;

constexpr char kHeader[] =
    "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
    "srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health "
    "srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord "
    "srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n";

// As HAProxy 2.6.12 printed them: a checked server in drain at weight 90, and a server just
// added (forced maintenance, checks configured but off).
constexpr char kTwoServers[] =
    "3 be 1 web-0-l1 127.0.0.1 2 8 90 100 0 1 0 0 6 0 0 0 - 9001 - 0 0 - - 0\n"
    "3 be 2 web-0-s1 ::1 0 1 10 10 0 1 0 0 2 0 0 0 - 9002 - 0 0 - - 0\n";

// Answers each connection's one command with `respond(command)`, like HAProxy's
// non-interactive mode; a reply of nullopt means never answering.
class FakeRuntimeApi {
 public:
  using Responder = std::function<std::optional<std::string>(const std::string&)>;

  FakeRuntimeApi(const std::string& path, Responder respond) : respond_(std::move(respond)) {
    listener_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    listen(listener_, 16);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeRuntimeApi() {
    stop_ = true;
    thread_.join();
    close(listener_);
  }

  std::vector<std::string> commands() {
    std::lock_guard lock(mu_);
    return commands_;
  }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{listener_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) {
        continue;
      }
      int fd = accept(listener_, nullptr, nullptr);
      std::string command;
      char c = 0;
      while (read(fd, &c, 1) == 1 && c != '\n') {
        command.push_back(c);
      }
      {
        std::lock_guard lock(mu_);
        commands_.push_back(command);
      }
      std::optional<std::string> reply = respond_(command);
      if (!reply) {
        held_.push_back(fd);  // Never answered; closed with the fake.
        continue;
      }
      ssize_t written = write(fd, reply->data(), reply->size());
      static_cast<void>(written);  // A client that left early is the client's problem.
      close(fd);
    }
    for (int fd : held_) {
      close(fd);
    }
  }

  Responder respond_;
  int listener_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<int> held_;  // Owned by the serving thread.
  std::mutex mu_;
  std::vector<std::string> commands_;
};

HaproxyRouterSettings SettingsFor(const std::string& socket_path) {
  HaproxyRouterSettings settings;
  settings.socket = "unix:" + socket_path;
  settings.backend = "be";
  settings.timeout = absl::Milliseconds(300);
  return settings;
}

TEST(ParseServersState, ReadsHaproxy26Rows) {
  absl::StatusOr<std::vector<HaproxyServerState>> servers =
      ParseServersState(std::string(kHeader) + kTwoServers);
  ASSERT_TRUE(servers.ok()) << servers.status();
  ASSERT_EQ(servers->size(), 2u);
  const HaproxyServerState& live = (*servers)[0];
  EXPECT_EQ(live.backend, "be");
  EXPECT_EQ(live.name, "web-0-l1");
  EXPECT_EQ(live.address, "127.0.0.1");
  EXPECT_EQ(live.port, 9001);
  EXPECT_EQ(live.op_state, 2);
  EXPECT_EQ(live.admin_state, kAdminForcedDrain);
  EXPECT_EQ(live.user_weight, 90);
  EXPECT_EQ(live.check_state, kCheckConfigured | kCheckEnabled);
  EXPECT_EQ((*servers)[1].admin_state, kAdminForcedMaint);
}

TEST(ParseServersState, FindsColumnsByNameWhateverTheirOrder) {
  absl::StatusOr<std::vector<HaproxyServerState>> servers = ParseServersState(
      "1\n# srv_uweight be_name srv_name srv_port srv_addr srv_admin_state future_column\n"
      "7 be s 80 10.0.0.1 0 x\n");
  ASSERT_TRUE(servers.ok()) << servers.status();
  EXPECT_EQ((*servers)[0].user_weight, 7);
  EXPECT_EQ((*servers)[0].address, "10.0.0.1");
}

TEST(ParseServersState, RejectsWhatItCannotReadWithTheReplyQuoted) {
  for (const char* reply : {"", "garbage", "1\n", "2\n# be_name srv_name\n",
                            "1\n# be_name srv_name srv_addr\nbe s 1.2.3.4\n",
                            "1\n# be_name srv_name srv_addr srv_port srv_admin_state srv_uweight\n"
                            "be s 1.2.3.4 80 0\n",
                            "1\n# be_name srv_name srv_addr srv_port srv_admin_state srv_uweight\n"
                            "be s 1.2.3.4 eighty 0 1\n"}) {
    absl::StatusOr<std::vector<HaproxyServerState>> servers = ParseServersState(reply);
    EXPECT_EQ(servers.status().code(), absl::StatusCode::kUnknown) << reply;
  }
}

TEST(ParseWeightReply, ReadsTheCurrentWeightOnly) {
  EXPECT_EQ(ParseWeightReply("90 (initial 100)\n\n"), 90);
  EXPECT_EQ(ParseWeightReply("0 (initial 1)\n"), 0);
  EXPECT_EQ(ParseWeightReply("No such server.\n"), std::nullopt);
  EXPECT_EQ(ParseWeightReply(""), std::nullopt);
}

TEST(HaproxyRuntimeApi, RejectsAnEndpointThatIsNeitherUnixNorHostPort) {
  HaproxyRuntimeApi api("/run/haproxy.sock", absl::Seconds(1));
  EXPECT_TRUE(absl::IsInvalidArgument(api.Send("show info").status()));
  HaproxyRuntimeApi good("unix:/nonexistent/haproxy.sock", absl::Seconds(1));
  EXPECT_TRUE(absl::IsInvalidArgument(good.Send("show info\nshutdown sessions").status()));
}

TEST(HaproxyRuntimeApi, SendsOneLineAndReadsUntilClosed) {
  TempDir dir;
  FakeRuntimeApi fake(dir.File("api.sock"), [](const std::string& command) {
    return "you said: " + command + "\nsecond line\n\n";
  });
  HaproxyRuntimeApi api("unix:" + dir.File("api.sock"), absl::Seconds(1));
  absl::StatusOr<std::string> reply = api.Send("get weight be/s");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, "you said: get weight be/s\nsecond line\n\n");
}

TEST(HaproxyRuntimeApi, ASilentSocketTimesOutAsUnavailable) {
  TempDir dir;
  FakeRuntimeApi fake(dir.File("api.sock"),
                      [](const std::string&) { return std::optional<std::string>(); });
  HaproxyRuntimeApi api("unix:" + dir.File("api.sock"), absl::Milliseconds(100));
  absl::Time start = absl::Now();
  absl::StatusOr<std::string> reply = api.Send("show info");
  EXPECT_TRUE(absl::IsUnavailable(reply.status())) << reply.status();
  EXPECT_TRUE(absl::StrContains(reply.status().message(), "timed out")) << reply.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST(HaproxyRouterWithFakeApi, WeightsReadBackOtherThanSetAreAFailedPrecondition) {
  TempDir dir;
  FakeRuntimeApi fake(dir.File("api.sock"),
                      [](const std::string& command) -> std::optional<std::string> {
                        if (absl::StartsWith(command, "show servers state")) {
                          return std::string(kHeader) + kTwoServers;
                        }
                        if (absl::StartsWith(command, "get weight")) {
                          return "42 (initial 100)\n\n";  // Whatever was set.
                        }
                        return "\n";
                      });
  HaproxyRouter router(SettingsFor(dir.File("api.sock")));
  absl::Status set = router.SetWeights(
      {{Backend{"web-0-l1", "127.0.0.1:9001"}, 90}, {Backend{"web-0-s1", "[::1]:9002"}, 10}});
  EXPECT_TRUE(absl::IsFailedPrecondition(set)) << set;
  EXPECT_TRUE(absl::StrContains(set.message(), "haproxy backend be")) << set;
  EXPECT_TRUE(absl::StrContains(set.message(), "web-0-s1 has 42 instead of 10")) << set;
}

TEST(HaproxyRouterWithFakeApi, RaisesWeightsBeforeLoweringOthers) {
  TempDir dir;
  FakeRuntimeApi fake(dir.File("api.sock"),
                      [](const std::string& command) -> std::optional<std::string> {
                        if (absl::StartsWith(command, "show servers state")) {
                          return std::string(kHeader) + kTwoServers;  // 90 and 10.
                        }
                        if (command == "get weight be/web-0-l1") {
                          return "0 (initial 100)\n\n";
                        }
                        if (command == "get weight be/web-0-s1") {
                          return "100 (initial 10)\n\n";
                        }
                        return "\n";
                      });
  HaproxyRouter router(SettingsFor(dir.File("api.sock")));
  ASSERT_TRUE(router
                  .SetWeights({{Backend{"web-0-l1", "127.0.0.1:9001"}, 0},
                               {Backend{"web-0-s1", "[::1]:9002"}, 100}})
                  .ok());
  std::vector<std::string> commands = fake.commands();
  ASSERT_GE(commands.size(), 3u);
  EXPECT_EQ(commands[1], "set weight be/web-0-s1 100");
  EXPECT_EQ(commands[2], "set weight be/web-0-l1 0");
}

TEST(HaproxyRouterWithFakeApi, ReadReportsDrainMaintenanceAndAbsence) {
  TempDir dir;
  FakeRuntimeApi fake(dir.File("api.sock"), [](const std::string&) {
    return std::optional<std::string>(std::string(kHeader) + kTwoServers);
  });
  HaproxyRouter router(SettingsFor(dir.File("api.sock")));
  absl::StatusOr<std::vector<BackendState>> states =
      router.Read({{"web-0-l1", ""}, {"web-0-s1", ""}, {"web-0-s2", ""}});
  ASSERT_TRUE(states.ok()) << states.status();
  EXPECT_EQ((*states)[0].weight_percent, 90);
  EXPECT_TRUE((*states)[0].draining);
  EXPECT_EQ((*states)[0].address, "127.0.0.1:9001");
  EXPECT_TRUE((*states)[1].draining);  // In maintenance: no new connections either.
  EXPECT_EQ((*states)[1].address, "[::1]:9002");
  EXPECT_TRUE((*states)[1].present);
  EXPECT_FALSE((*states)[2].present);
  EXPECT_EQ((*states)[2].name, "web-0-s2");
}

TEST(HaproxyRouterWithFakeApi, UnexpectedRepliesBecomeErrorsNotCrashes) {
  TempDir dir;
  std::atomic<int> variant{0};
  FakeRuntimeApi fake(dir.File("api.sock"),
                      [&variant](const std::string&) -> std::optional<std::string> {
                        switch (variant.load()) {
                          case 0:
                            return "";
                          case 1:
                            return "\x01\x02 binary \xff\n";
                          case 2:
                            return std::string(kHeader) + "3 be 1 web-0-l1\n";
                          default:
                            return std::string(100000, 'x');
                        }
                      });
  HaproxyRouter router(SettingsFor(dir.File("api.sock")));
  Backend live{"web-0-l1", "127.0.0.1:9001"};
  for (int i = 0; i < 4; ++i) {
    variant = i;
    EXPECT_FALSE(router.Ensure(live, 100).ok()) << i;
    EXPECT_FALSE(router.Read({live}).ok()) << i;
    EXPECT_FALSE(router.SetWeights({{live, 10}}).ok()) << i;
  }
}

TEST(HaproxyRouterWithFakeApi, RemoveRetriesWhileTheServerStillHasConnections) {
  TempDir dir;
  std::atomic<int> deletes{0};
  FakeRuntimeApi fake(dir.File("api.sock"),
                      [&deletes](const std::string& command) -> std::optional<std::string> {
                        if (absl::StartsWith(command, "del server") && ++deletes < 3) {
                          return "Server still has connections attached to it, cannot remove "
                                 "it.\n";
                        }
                        if (absl::StartsWith(command, "del server")) {
                          return "Server deleted.\n";
                        }
                        return "\n";
                      });
  HaproxyRouter router(SettingsFor(dir.File("api.sock")));
  absl::Status removed = router.Remove(Backend{"web-0-l1", "127.0.0.1:9001"});
  EXPECT_TRUE(removed.ok()) << removed;
  EXPECT_EQ(deletes.load(), 3);
  EXPECT_EQ(fake.commands().front(), "set server be/web-0-l1 state maint");
}

TEST(HaproxyRouterWithFakeApi, RemoveGivesUpAsUnavailableWhenConnectionsStay) {
  TempDir dir;
  FakeRuntimeApi fake(dir.File("api.sock"),
                      [](const std::string& command) -> std::optional<std::string> {
                        if (absl::StartsWith(command, "del server")) {
                          return "Server still has connections attached to it, cannot remove "
                                 "it.\n";
                        }
                        return "\n";
                      });
  HaproxyRouter router(SettingsFor(dir.File("api.sock")));
  absl::Status removed = router.Remove(Backend{"web-0-l1", "127.0.0.1:9001"});
  EXPECT_TRUE(absl::IsUnavailable(removed)) << removed;
  EXPECT_TRUE(absl::StrContains(removed.message(), "still has connections")) << removed;
}

TEST(HaproxyRouterWithFakeApi, APermissionRefusalIsPermissionDenied) {
  TempDir dir;
  FakeRuntimeApi fake(dir.File("api.sock"), [](const std::string&) {
    return std::optional<std::string>("Permission denied\n\n");
  });
  HaproxyRouter router(SettingsFor(dir.File("api.sock")));
  absl::Status drain = router.Drain(Backend{"web-0-l1", "127.0.0.1:9001"});
  EXPECT_TRUE(absl::IsPermissionDenied(drain)) << drain;
}

}  // namespace
}  // namespace shadowfleet

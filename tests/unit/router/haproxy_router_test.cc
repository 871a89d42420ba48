// The haproxy router against a real HAProxy started for each test (haproxy -db, a frontend, a
// backend "be" with no static servers), with two real HTTP servers as the live (answers "A")
// and shadow (answers "B") replicas of one instance: servers added at runtime, weights read
// back and checked against the traffic that actually flows through the frontend, drain and
// removal, and the errors of a wrong backend or a dead socket. Skipped when haproxy is not
// installed.
#include "shadowfleet/router/haproxy_router.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include "absl/strings/match.h"
#include "testing/real_servers.h"
#include "testing/temp_dir.h"

#include "shadowfleet/common/http_client.h"
#include "shadowfleet/loadgen/load_generator.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::HaproxyBinary;
using ::shadowfleet::testing::HaproxyProcess;
using ::shadowfleet::testing::TempDir;
using ::shadowfleet::testing::WorkloadProcess;

struct Answers {
  int live = 0;    // "A ..."
  int shadow = 0;  // "B ..."
  int other = 0;   // Errors, other statuses.
};

class HaproxyRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (HaproxyBinary().empty()) {
      GTEST_SKIP() << "haproxy is not installed (apt-get install haproxy): the haproxy router "
                      "tests need a real HAProxy";
    }
    if (access(WorkloadProcess::Binary().c_str(), X_OK) != 0) {
      GTEST_SKIP() << "no workload binary at " << WorkloadProcess::Binary()
                   << ": build the shadowfleet-workload target";
    }
    std::string error;
    ASSERT_TRUE(haproxy_.Start(dir_.path(), &error)) << error;
    ASSERT_TRUE(live_server_.Start(dir_.path(), "A"));
    ASSERT_TRUE(shadow_server_.Start(dir_.path(), "B"));
    live_ = Backend{"web-0-l1", live_server_.address()};
    shadow_ = Backend{"web-0-s1", shadow_server_.address()};
  }

  HaproxyRouterSettings Settings() const {
    HaproxyRouterSettings settings;
    settings.socket = haproxy_.unix_socket();
    settings.backend = "be";
    settings.full_weight = 100;
    settings.health_checks = true;
    settings.timeout = absl::Seconds(2);
    return settings;
  }

  // Sends `requests` requests through HAProxy's frontend, each on a new connection, and counts
  // who answered.
  Answers Send(int requests) const {
    Answers answers;
    for (int i = 0; i < requests; ++i) {
      absl::StatusOr<HttpResponse> response =
          HttpRequest("GET", "127.0.0.1", haproxy_.frontend_port(), "/");
      if (!response.ok() || response->status != 200) {
        answers.other++;
      } else if (absl::StartsWith(response->body, "A ")) {
        answers.live++;
      } else if (absl::StartsWith(response->body, "B ")) {
        answers.shadow++;
      } else {
        answers.other++;
      }
    }
    return answers;
  }

  // The router's view of the pair.
  std::vector<BackendState> ReadPair(HaproxyRouter& router) const {
    absl::StatusOr<std::vector<BackendState>> states = router.Read({live_, shadow_});
    EXPECT_TRUE(states.ok()) << states.status();
    return states.ok() ? *states : std::vector<BackendState>(2);
  }

  TempDir dir_;  // Declared first: removed after the processes using it have stopped.
  HaproxyProcess haproxy_;
  WorkloadProcess live_server_;
  WorkloadProcess shadow_server_;
  Backend live_;
  Backend shadow_;
};

TEST_F(HaproxyRouterTest, EnsureAddsServersThatCarryTraffic) {
  HaproxyRouter router(Settings());
  ASSERT_TRUE(router.Ensure(live_, 100).ok());
  ASSERT_TRUE(router.Ensure(shadow_, 0).ok());

  std::vector<BackendState> states = ReadPair(router);
  EXPECT_TRUE(states[0].present);
  EXPECT_EQ(states[0].address, live_.address);
  EXPECT_EQ(states[0].weight_percent, 100);
  EXPECT_FALSE(states[0].draining);
  EXPECT_TRUE(states[1].present);
  EXPECT_EQ(states[1].weight_percent, 0);

  Answers answers = Send(50);
  EXPECT_EQ(answers.live, 50);
  EXPECT_EQ(answers.shadow, 0);
}

TEST_F(HaproxyRouterTest, SplitsTrafficNinetyTenAsReadBack) {
  HaproxyRouter router(Settings());
  ASSERT_TRUE(router.Ensure(live_, 100).ok());
  ASSERT_TRUE(router.Ensure(shadow_, 0).ok());

  absl::Status set = router.SetWeights({{live_, 90}, {shadow_, 10}});
  ASSERT_TRUE(set.ok()) << set;
  std::vector<BackendState> states = ReadPair(router);
  EXPECT_EQ(states[0].weight_percent, 90);
  EXPECT_EQ(states[1].weight_percent, 10);
  absl::StatusOr<std::string> weight =
      HaproxyRuntimeApi(haproxy_.unix_socket(), absl::Seconds(1)).Send("get weight be/web-0-s1");
  ASSERT_TRUE(weight.ok());
  EXPECT_EQ(ParseWeightReply(*weight), 10) << *weight;

  constexpr int kRequests = 2000;
  Answers answers = Send(kRequests);
  double shadow_share = 100.0 * answers.shadow / kRequests;
  std::printf("90/10 split over %d requests: live %d, shadow %d (%.2f %%), errors %d\n", kRequests,
              answers.live, answers.shadow, shadow_share, answers.other);
  EXPECT_EQ(answers.other, 0);
  EXPECT_NEAR(shadow_share, 10.0, 1.5);
}

TEST_F(HaproxyRouterTest, ZeroHundredSendsEverythingToTheShadow) {
  HaproxyRouter router(Settings());
  ASSERT_TRUE(router.Ensure(live_, 100).ok());
  ASSERT_TRUE(router.Ensure(shadow_, 0).ok());

  ASSERT_TRUE(router.SetWeights({{live_, 0}, {shadow_, 100}}).ok());
  std::vector<BackendState> states = ReadPair(router);
  EXPECT_EQ(states[0].weight_percent, 0);
  EXPECT_EQ(states[1].weight_percent, 100);
  Answers answers = Send(200);
  EXPECT_EQ(answers.shadow, 200);
  EXPECT_EQ(answers.live, 0);
  EXPECT_EQ(answers.other, 0);
}

TEST_F(HaproxyRouterTest, AbsoluteWeightsFollowTheFullWeight) {
  HaproxyRouterSettings settings = Settings();
  settings.full_weight = 256;
  HaproxyRouter router(settings);
  ASSERT_TRUE(router.Ensure(live_, 90).ok());
  ASSERT_TRUE(router.Ensure(shadow_, 10).ok());

  HaproxyRuntimeApi api(haproxy_.unix_socket(), absl::Seconds(1));
  EXPECT_EQ(ParseWeightReply(*api.Send("get weight be/web-0-l1")), 230);
  EXPECT_EQ(ParseWeightReply(*api.Send("get weight be/web-0-s1")), 26);
  std::vector<BackendState> states = ReadPair(router);
  EXPECT_EQ(states[0].weight_percent, 90);
  EXPECT_EQ(states[1].weight_percent, 10);
}

TEST_F(HaproxyRouterTest, DrainStopsNewRequestsAndEnsureRestoresTheServer) {
  HaproxyRouter router(Settings());
  ASSERT_TRUE(router.Ensure(live_, 50).ok());
  ASSERT_TRUE(router.Ensure(shadow_, 50).ok());

  ASSERT_TRUE(router.Drain(live_).ok());
  std::vector<BackendState> states = ReadPair(router);
  EXPECT_TRUE(states[0].draining);
  EXPECT_TRUE(states[0].present);
  EXPECT_FALSE(states[1].draining);
  Answers drained = Send(100);
  EXPECT_EQ(drained.shadow, 100);
  EXPECT_EQ(drained.other, 0);

  ASSERT_TRUE(router.Ensure(live_, 50).ok());
  EXPECT_FALSE(ReadPair(router)[0].draining);
  Answers restored = Send(100);
  EXPECT_EQ(restored.live, 50);
  EXPECT_EQ(restored.shadow, 50);
}

TEST_F(HaproxyRouterTest, RemoveTakesTheServerOutAndIsIdempotent) {
  HaproxyRouter router(Settings());
  ASSERT_TRUE(router.Ensure(live_, 100).ok());
  ASSERT_TRUE(router.Ensure(shadow_, 100).ok());
  ASSERT_FALSE(Send(10).other);

  absl::Status removed = router.Remove(live_);
  ASSERT_TRUE(removed.ok()) << removed;
  std::vector<BackendState> states = ReadPair(router);
  EXPECT_FALSE(states[0].present);
  EXPECT_TRUE(states[1].present);
  Answers answers = Send(50);
  EXPECT_EQ(answers.shadow, 50);
  EXPECT_EQ(answers.other, 0);

  EXPECT_TRUE(router.Remove(live_).ok());
  absl::StatusOr<std::string> listing =
      HaproxyRuntimeApi(haproxy_.unix_socket(), absl::Seconds(1)).Send("show servers state be");
  ASSERT_TRUE(listing.ok());
  EXPECT_FALSE(absl::StrContains(*listing, "web-0-l1")) << *listing;
}

TEST_F(HaproxyRouterTest, SwitchesAnInstanceUnderLoadWithoutAFailedRequest) {
  HaproxyRouter router(Settings());
  ASSERT_TRUE(router.Ensure(live_, 100).ok());
  ASSERT_TRUE(router.Ensure(shadow_, 0).ok());
  LoadGeneratorOptions options;
  options.port = haproxy_.frontend_port();
  options.rate = 200;
  options.connections = 8;
  LoadGenerator load(options);
  ASSERT_TRUE(load.Start().ok());

  // The canary steps, promotion, then live drained and taken out, with load throughout.
  for (int shadow_percent : {10, 50, 100}) {
    absl::SleepFor(absl::Milliseconds(300));
    ASSERT_TRUE(router.SetWeights({{live_, 100 - shadow_percent}, {shadow_, shadow_percent}}).ok());
  }
  absl::SleepFor(absl::Milliseconds(300));
  ASSERT_TRUE(router.Drain(live_).ok());
  absl::SleepFor(absl::Milliseconds(300));
  absl::Status removed = router.Remove(live_);
  ASSERT_TRUE(removed.ok()) << removed;
  absl::SleepFor(absl::Milliseconds(300));
  load.Stop();

  LoadSnapshot result = load.Snapshot();
  std::printf("switchover under load: %lld sent, %lld succeeded, %lld failed, p99 %.1f ms\n",
              static_cast<long long>(result.sent), static_cast<long long>(result.succeeded),
              static_cast<long long>(result.Failed()), absl::ToDoubleMilliseconds(result.p99));
  EXPECT_GT(result.sent, 300);
  EXPECT_EQ(result.Failed(), 0);
  EXPECT_EQ(Send(20).shadow, 20);
}

TEST_F(HaproxyRouterTest, EnsureMovesAServerWhoseAddressChanged) {
  HaproxyRouter router(Settings());
  ASSERT_TRUE(router.Ensure(live_, 100).ok());
  ASSERT_EQ(Send(10).live, 10);

  Backend moved{live_.name, "localhost:" + std::to_string(shadow_server_.port())};
  ASSERT_TRUE(router.Ensure(moved, 100).ok());
  EXPECT_EQ(ReadPair(router)[0].address, shadow_.address);
  EXPECT_EQ(Send(10).shadow, 10);
}

TEST_F(HaproxyRouterTest, TheTcpRuntimeApiWorksLikeTheUnixSocket) {
  HaproxyRouterSettings settings = Settings();
  settings.socket = haproxy_.tcp_socket();
  HaproxyRouter router(settings);
  ASSERT_TRUE(router.Ensure(live_, 70).ok());
  ASSERT_TRUE(router.Ensure(shadow_, 30).ok());
  ASSERT_TRUE(router.SetWeights({{live_, 20}, {shadow_, 80}}).ok());
  EXPECT_EQ(ReadPair(router)[1].weight_percent, 80);
}

TEST_F(HaproxyRouterTest, AWrongBackendIsNotFoundAndNamed) {
  HaproxyRouterSettings settings = Settings();
  settings.backend = "nope";
  HaproxyRouter router(settings);

  absl::Status ensure = router.Ensure(live_, 100);
  EXPECT_TRUE(absl::IsNotFound(ensure)) << ensure;
  EXPECT_TRUE(absl::StrContains(ensure.message(), "nope")) << ensure;
  EXPECT_TRUE(absl::StrContains(ensure.message(), "Can't find backend")) << ensure;

  absl::Status drain = router.Drain(live_);
  EXPECT_TRUE(absl::IsNotFound(drain)) << drain;
  EXPECT_TRUE(absl::StrContains(drain.message(), "No such backend")) << drain;
  EXPECT_TRUE(absl::IsNotFound(router.SetWeights({{live_, 90}, {shadow_, 10}})));
  EXPECT_TRUE(absl::IsNotFound(router.Read({live_}).status()));
  EXPECT_TRUE(absl::IsNotFound(router.Remove(live_)));
}

TEST_F(HaproxyRouterTest, ADeadSocketIsUnavailable) {
  HaproxyRouterSettings missing = Settings();
  missing.socket = "unix:" + dir_.File("no-such.sock");
  absl::Status ensure = HaproxyRouter(missing).Ensure(live_, 100);
  EXPECT_TRUE(absl::IsUnavailable(ensure)) << ensure;
  EXPECT_TRUE(absl::StrContains(ensure.message(), "no-such.sock")) << ensure;

  HaproxyRouterSettings refused = Settings();
  refused.socket = "127.0.0.1:" + std::to_string(testing::FreePort());
  EXPECT_TRUE(absl::IsUnavailable(HaproxyRouter(refused).Read({live_}).status()));

  HaproxyRouter router(Settings());
  ASSERT_TRUE(router.Ensure(live_, 100).ok());
  haproxy_.Stop();
  absl::Status after_stop = router.SetWeights({{live_, 50}});
  EXPECT_TRUE(absl::IsUnavailable(after_stop)) << after_stop;
}

TEST_F(HaproxyRouterTest, SetWeightsNamingAnUnknownServerChangesNothing) {
  HaproxyRouter router(Settings());
  ASSERT_TRUE(router.Ensure(live_, 100).ok());

  absl::Status set = router.SetWeights({{live_, 10}, {Backend{"web-9-s1", "127.0.0.1:1"}, 90}});
  EXPECT_TRUE(absl::IsNotFound(set)) << set;
  EXPECT_TRUE(absl::StrContains(set.message(), "web-9-s1")) << set;
  EXPECT_EQ(ReadPair(router)[0].weight_percent, 100);
}

TEST_F(HaproxyRouterTest, RefusesNamesAndWeightsThatCannotBeSentSafely) {
  HaproxyRouter router(Settings());
  absl::Status injected = router.Ensure(Backend{"x; del server be/web-0-l1", live_.address}, 10);
  EXPECT_TRUE(absl::IsInvalidArgument(injected)) << injected;
  EXPECT_TRUE(absl::IsInvalidArgument(router.Ensure(live_, 101)));
  EXPECT_TRUE(absl::IsInvalidArgument(router.SetWeights({{live_, -1}})));
  EXPECT_TRUE(absl::IsInvalidArgument(router.Ensure(Backend{"web-0-l2", "no port"}, 10)));
}

TEST_F(HaproxyRouterTest, HaproxyRefusalsCarryHaproxysOwnWords) {
  HaproxyRouterSettings settings = Settings();
  settings.backend = "hashed";  // `balance source`, which takes no servers at runtime.
  absl::Status ensure = HaproxyRouter(settings).Ensure(live_, 100);
  EXPECT_TRUE(absl::IsFailedPrecondition(ensure)) << ensure;
  EXPECT_TRUE(absl::StrContains(ensure.message(), "add server hashed/web-0-l1")) << ensure;
  EXPECT_TRUE(absl::StrContains(ensure.message(), "dynamic")) << ensure;
}

}  // namespace
}  // namespace shadowfleet

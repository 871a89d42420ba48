// A daemon (in this process) running a fleet of real shadowfleet-workload processes with the
// process provider, driven through its real HTTP API: shadows come up ready, changes reach
// live and then the shadow, observed changes are recorded, broken shadows are replaced, data
// volumes are copied, and bad input gets a clear error while the daemon keeps serving.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "integration/harness.h"
#include "integration/integration_env.h"

#include "shadowfleet/common/files.h"
#include "shadowfleet/common/http_client.h"
#include "shadowfleet/common/logging.h"
#include "shadowfleet/daemon/daemon.h"

namespace shadowfleet::testing {
namespace {

class ProcessFleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogLevel("warn");
    DaemonConfig config;
    config.listen = "127.0.0.1:0";
    config.state_dir = dir_.path() + "/state";
    config.sqlite_path = config.state_dir + "/state.db";
    config.sqlite_synchronous_full = false;
    config.reconcile_interval = absl::Milliseconds(100);
    config.observe_interval = absl::Milliseconds(300);
    config.orphan_collection_interval = absl::Seconds(1);
    config.bin_dir = BinaryDir();
    auto daemon = Daemon::Create(config);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
    ASSERT_TRUE(daemon_->Start().ok());
    client_.emplace(*ApiClient::Connect(daemon_->address()));
  }

  void TearDown() override {
    if (daemon_ != nullptr) {
      client_->Delete("/api/v1/fleets/itest").IgnoreError();
      WaitUntil([this] { return daemon_->state().instance_count() == 0; }, absl::Seconds(15));
      daemon_->Stop();
    }
  }

  void ApplyFleet(int replicas, const std::string& message = "hello") {
    absl::StatusOr<nlohmann::json> applied =
        client_->Post("/api/v1/apply", ProcessFleetYaml(replicas, message), "application/yaml");
    ASSERT_TRUE(applied.ok()) << applied.status();
  }

  bool AllReady(int expected) {
    absl::StatusOr<nlohmann::json> r = client_->Get("/api/v1/readiness");
    return r.ok() && (*r)["fleet"].value("liveInstances", 0) == expected &&
           (*r)["fleet"].value("readyShadows", 0) == expected;
  }

  nlohmann::json Instance(const std::string& id) {
    return GetJson(*client_, "/api/v1/instances/" + id);
  }

  // The body of GET `path` on a replica endpoint ("127.0.0.1:port").
  std::string Fetch(const std::string& endpoint, const std::string& path) {
    auto host_port = ParseHostPort(endpoint);
    EXPECT_TRUE(host_port.ok());
    auto response = HttpRequest("GET", host_port->first, host_port->second, path);
    return response.ok() ? response->body : "";
  }

  TempDir dir_;
  std::unique_ptr<Daemon> daemon_;
  std::optional<ApiClient> client_;
};

TEST_F(ProcessFleetTest, BringsUpAReadyShadowForEveryLiveInstance) {
  ApplyFleet(3);
  ASSERT_TRUE(WaitUntil([this] { return AllReady(3); }))
      << GetJson(*client_, "/api/v1/readiness").dump(2);
  for (int i = 0; i < 3; ++i) {
    nlohmann::json instance = Instance(absl::StrCat("app-", i));
    std::string live = instance["live"]["endpoint"];
    std::string shadow = instance["shadow"]["endpoint"];
    ASSERT_NE(live, shadow);
    // Both are real processes serving the same configuration document.
    nlohmann::json live_config = nlohmann::json::parse(Fetch(live, "/config"), nullptr, false);
    nlohmann::json shadow_config = nlohmann::json::parse(Fetch(shadow, "/config"), nullptr, false);
    EXPECT_EQ(live_config, shadow_config);
    EXPECT_EQ(live_config["software"]["openssl"], "3.0.15");
  }
}

TEST_F(ProcessFleetTest, ARecordedChangeReachesLiveAndThenTheShadow) {
  ApplyFleet(2);
  ASSERT_TRUE(WaitUntil([this] { return AllReady(2); }));
  nlohmann::json change = {{"group", "app"},
                           {"set", {{"/config/message", "patched"}}},
                           {"author", "alice"},
                           {"reason", "new greeting"}};
  nlohmann::json recorded = PostJson(*client_, "/api/v1/changes", change);
  ASSERT_EQ(recorded["versions"].size(), 2u);
  ASSERT_TRUE(WaitUntil([this] {
    return Instance("app-0")["shadowVersion"] == 2 && Instance("app-1")["shadowVersion"] == 2 &&
           AllReady(2);
  }));
  nlohmann::json instance = Instance("app-0");
  EXPECT_THAT(Fetch(instance["live"]["endpoint"], "/"), ::testing::StartsWith("patched"));
  EXPECT_THAT(Fetch(instance["shadow"]["endpoint"], "/"), ::testing::StartsWith("patched"));

  // The audit log shows live got the version before the shadow did.
  nlohmann::json events = GetJson(*client_, "/api/v1/events?subject=app-0&limit=100");
  int live_applied = -1, shadow_ready = -1;
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i]["kind"] == "live.version_applied") {
      live_applied = static_cast<int>(i);
    }
    if (events[i]["kind"] == "shadow.ready" &&
        events[i]["message"].get<std::string>().find("version 2") != std::string::npos) {
      shadow_ready = static_cast<int>(i);
    }
  }
  EXPECT_GE(live_applied, 0);
  EXPECT_GT(shadow_ready, live_applied);

  nlohmann::json diff = GetJson(*client_, "/api/v1/instances/app-0/diff?from=1&to=2");
  ASSERT_EQ(diff["patch"].size(), 1u);
  EXPECT_EQ(diff["patch"][0]["path"], "/config/message");
}

TEST_F(ProcessFleetTest, AChangeMadeOnLiveBehindItsBackIsRecordedAsObserved) {
  ApplyFleet(1);
  ASSERT_TRUE(WaitUntil([this] { return AllReady(1); }));
  // Another tool patches live's configuration file directly.
  std::string config_path = dir_.path() + "/state/replicas/" +
                            Instance("app-0")["live"]["replica"].get<std::string>() +
                            "/config.json";
  nlohmann::json document = nlohmann::json::parse(*ReadFile(config_path));
  document["software"]["openssl"] = "3.0.16";
  ASSERT_TRUE(WriteFileAtomically(config_path, document.dump()).ok());

  ASSERT_TRUE(WaitUntil([this] {
    nlohmann::json versions = GetJson(*client_, "/api/v1/instances/app-0/versions");
    return versions.size() == 2 && versions[1]["source"] == "observed";
  }));
  ASSERT_TRUE(WaitUntil([this] { return Instance("app-0")["shadowVersion"] == 2; }));
  nlohmann::json shadow_config = nlohmann::json::parse(
      Fetch(Instance("app-0")["shadow"]["endpoint"], "/config"), nullptr, false);
  EXPECT_EQ(shadow_config["software"]["openssl"], "3.0.16");
}

TEST_F(ProcessFleetTest, AKilledShadowIsReplacedAndLiveIsNotTouched) {
  ApplyFleet(1);
  ASSERT_TRUE(WaitUntil([this] { return AllReady(1); }));
  nlohmann::json before = Instance("app-0");
  int shadow_pid = before["shadowRecord"]["replica"]["providerState"]["pid"];
  int live_pid = before["record"]["live"]["providerState"]["pid"];
  ASSERT_EQ(kill(shadow_pid, SIGKILL), 0);

  ASSERT_TRUE(WaitUntil([&] {
    nlohmann::json now = Instance("app-0");
    return now["shadow"]["replica"] != before["shadow"]["replica"] && AllReady(1);
  }));
  nlohmann::json after = Instance("app-0");
  EXPECT_EQ(after["record"]["live"]["providerState"]["pid"], live_pid);
  EXPECT_EQ(after["shadowRecord"]["replacements"], 1);
}

TEST_F(ProcessFleetTest, CopiesLiveDataVolumesToTheShadow) {
  ApplyFleet(1);
  ASSERT_TRUE(WaitUntil([this] { return AllReady(1); }));
  nlohmann::json instance = Instance("app-0");
  std::string live_dir =
      dir_.path() + "/state/replicas/" + instance["live"]["replica"].get<std::string>();
  std::string shadow_dir =
      dir_.path() + "/state/replicas/" + instance["shadow"]["replica"].get<std::string>();
  // The workload appends to its journal every second; the copy must follow it.
  ASSERT_TRUE(WaitUntil([&] {
    auto live = ReadFile(live_dir + "/data/journal.log");
    auto shadow = ReadFile(shadow_dir + "/data/journal.log");
    return live.ok() && shadow.ok() && !shadow->empty() &&
           live->substr(0, shadow->size()) == *shadow;
  }));
  nlohmann::json readiness = GetJson(*client_, "/api/v1/instances/app-0/readiness");
  EXPECT_LT(readiness["dataLagSeconds"].get<double>(), 5.0);
}

TEST_F(ProcessFleetTest, AMalformedSpecIsRejectedWithItsPositionAndChangesNothing) {
  ApplyFleet(1);
  ASSERT_TRUE(WaitUntil([this] { return AllReady(1); }));
  nlohmann::json before = GetJson(*client_, "/api/v1/fleets");
  std::string bad = ProcessFleetYaml(1, "changed");
  bad.replace(bad.find("replicas: 1"), 11, "replicas: one\n      colour: blue");

  absl::StatusOr<HttpResponse> response = HttpRequest(
      "POST", "127.0.0.1", daemon_->port(), "/api/v1/apply?file=bad.yaml", bad, "application/yaml");
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 400);
  nlohmann::json error = nlohmann::json::parse(response->body)["error"];
  EXPECT_EQ(error["code"], "INVALID_ARGUMENT");
  ASSERT_EQ(error["details"].size(), 2u) << error.dump(2);
  std::vector<std::string> paths = {error["details"][0]["path"], error["details"][1]["path"]};
  EXPECT_THAT(paths,
              ::testing::UnorderedElementsAre("spec.groups[0].replicas", "spec.groups[0].colour"));
  for (const nlohmann::json& detail : error["details"]) {
    EXPECT_EQ(detail["file"], "bad.yaml");
    EXPECT_GT(detail["line"].get<int>(), 0);
    EXPECT_GT(detail["column"].get<int>(), 0);
  }
  EXPECT_EQ(GetJson(*client_, "/api/v1/fleets"), before);
  EXPECT_EQ(GetJson(*client_, "/api/v1/instances/app-0/versions").size(), 1u);
}

TEST_F(ProcessFleetTest, BadRequestsGetClearErrorsAndTheDaemonKeepsServing) {
  ApplyFleet(1);
  struct Case {
    std::string method, path, body;
    int status;
    std::string message;
  };
  std::vector<Case> cases = {
      {"GET", "/api/v1/instances/nope", "", 404, "no instance"},
      {"GET", "/api/v1/instances/app-0/versions?limit=abc", "", 400, "limit"},
      {"GET", "/api/v1/instances/app-0/versions/0", "", 400, "version"},
      {"GET", "/api/v1/instances/app-0/diff?from=1", "", 400, "from and to"},
      {"POST", "/api/v1/changes", "{not json", 400, "not valid JSON"},
      {"POST", "/api/v1/changes", R"({"group": "app", "set": {"x": 1}, "author": "a"})", 400,
       "JSON pointer"},
      {"POST", "/api/v1/changes", R"({"instances": ["app-0"], "author": "a"})", 400,
       "exactly one of patch, merge or set"},
      {"POST", "/api/v1/changes", R"({"instances": ["ghost"], "set": {"/a": 1}, "author": "a"})",
       404, "ghost"},
      {"GET", "/api/v1/nothing-here", "", 404, "no route"},
      {"POST", "/api/v1/switchovers", R"({"instance": "app-0"})", 400, "reason"},
      {"POST", "/api/v1/switchovers", R"({"instance": "app-0", "reason": "r", "strategy": 3})", 400,
       "strategy"},
      {"POST", "/api/v1/switchovers", R"({"instance": "ghost", "reason": "r"})", 404, "ghost"},
      {"POST", "/api/v1/switchovers/sw-nope/abort", R"({"reason": 7})", 400, "reason"},
      {"POST", "/api/v1/switchovers/refresh", R"({"group": "app", "reason": "r",
       "strategy": "sideways"})",
       400, "canary or blueGreen"},
      {"GET", "/api/v1/switchovers/sw-nope", "", 404, "no switchover"},
      {"POST", "/api/v1/telemetry/ghost", "", 404, "no instance"},
      {"POST", "/api/v1/instances/ghost/failures", R"({"kind": "crash"})", 404, "ghost"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<HttpResponse> response =
        HttpRequest(c.method, "127.0.0.1", daemon_->port(), c.path, c.body, "application/json");
    ASSERT_TRUE(response.ok()) << c.path;
    EXPECT_EQ(response->status, c.status) << c.method << " " << c.path << ": " << response->body;
    EXPECT_THAT(response->body, ::testing::HasSubstr(c.message)) << c.path;
  }
  absl::StatusOr<HttpResponse> health =
      HttpRequest("GET", "127.0.0.1", daemon_->port(), "/healthz");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);
}

TEST_F(ProcessFleetTest, ExportsReadinessAsPrometheusMetrics) {
  ApplyFleet(2);
  ASSERT_TRUE(WaitUntil([this] { return AllReady(2); }));
  absl::StatusOr<HttpResponse> metrics =
      HttpRequest("GET", "127.0.0.1", daemon_->port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_THAT(metrics->body, ::testing::HasSubstr("shadowfleet_fleet_readiness_ratio 1"));
  EXPECT_THAT(metrics->body, ::testing::HasSubstr("shadowfleet_fleet_live_instances 2"));
  EXPECT_THAT(metrics->body,
              ::testing::HasSubstr("shadowfleet_shadow_ready{group=\"app\",instance=\"app-0\"} 1"));
  EXPECT_THAT(metrics->body,
              ::testing::HasSubstr("shadowfleet_shadow_actions_total{action=\"created\"} 2"));
}

}  // namespace
}  // namespace shadowfleet::testing

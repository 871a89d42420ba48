// The daemon as an operator runs it (`shadowfleet serve` in its own process): a clean
// shutdown on SIGTERM and a crash (SIGKILL) in the middle of applying a delta both leave the
// ledger and the live instances intact, a failing provider is contained, and two daemons
// sharing one store take turns through the controller lease.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "integration/harness.h"
#include "integration/integration_env.h"

#include "shadowfleet/common/clock.h"
#include "shadowfleet/common/files.h"
#include "shadowfleet/common/http_client.h"
#include "shadowfleet/common/subprocess.h"
#include "shadowfleet/ledger/ledger.h"
#include "shadowfleet/store/sqlite_store.h"

namespace shadowfleet::testing {
namespace {

// A wrapper around the example exec plug-in that can slow down or fail `apply`, so that a
// test can kill the daemon while a delta is being applied, or make the provider fail.
constexpr char kWrapper[] = R"(import json, os, re, subprocess, sys, time
op = sys.argv[1]
data = sys.stdin.read()
if op == "apply":
    replica = json.loads(data)["replica"]["id"]
    if os.environ.get("FAIL_SHADOW_APPLY") and re.search(r"-s[0-9]+$", replica):
        print(json.dumps({"error": "disk full on " + replica}))
        sys.exit(1)
    time.sleep(float(os.environ.get("APPLY_DELAY", "0")))
run = subprocess.run(["/usr/bin/python3", os.environ["PLUGIN"], op], input=data, text=True,
                     capture_output=True)
sys.stdout.write(run.stdout)
sys.stderr.write(run.stderr)
sys.exit(run.returncode)
)";

std::string ExecFleetYaml(const std::string& dir, int replicas, const std::string& extra_env) {
  return absl::StrCat(R"(apiVersion: shadowfleet.dev/v1alpha1
kind: Fleet
metadata: {name: exec}
spec:
  groups:
    - name: ex
      replicas: )",
                      replicas, R"(
      software: [{name: openssl, version: 3.0.15}]
      configuration: {message: hello}
      provider:
        name: exec
        settings:
          command: ["/usr/bin/python3", ")",
                      dir, R"(/wrapper.py"]
          timeout: 30s
          env:
            PLUGIN: )",
                      SourceDir(), R"(/examples/providers/local-process-plugin.py
            PLUGIN_STATE_DIR: )",
                      dir, R"(/plugin
            PLUGIN_COMMAND: '["{bin}/shadowfleet-workload", "--port", "{port}",
              "--config", "{config}"]'
)",
                      extra_env, R"(
      healthCheck: {interval: 200ms, timeout: 500ms, failureThreshold: 2}
)");
}

bool AllReady(const ApiClient& client, int expected, int64_t shadow_version = 0) {
  absl::StatusOr<nlohmann::json> r = client.Get("/api/v1/readiness");
  if (!r.ok() || (*r)["fleet"].value("readyShadows", 0) != expected ||
      (*r)["fleet"].value("liveInstances", 0) != expected) {
    return false;
  }
  for (const nlohmann::json& i : (*r)["instances"]) {
    if (shadow_version > 0 && i.value("shadowVersion", 0) != shadow_version) {
      return false;
    }
  }
  return true;
}

void Apply(const ApiClient& client, const std::string& yaml) {
  absl::StatusOr<nlohmann::json> applied = client.Post("/api/v1/apply", yaml, "application/yaml");
  ASSERT_TRUE(applied.ok()) << applied.status();
}

void RecordChange(const ApiClient& client, const std::string& group, const std::string& value) {
  nlohmann::json change = {{"group", group},
                           {"set", {{"/config/message", value}}},
                           {"author", "test"},
                           {"reason", "change " + value}};
  PostJson(client, "/api/v1/changes", change);
}

// Opens the daemon's store directly (as a post-mortem would) and checks every instance's
// ledger rebuilds to its digests. Returns the number of versions per instance.
std::map<std::string, int64_t> VerifyLedger(const std::string& state_dir) {
  std::map<std::string, int64_t> versions;
  auto store = SqliteStore::Open({state_dir + "/state.db", false});
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) {
    return versions;
  }
  FakeClock clock;
  Ledger ledger(store->get(), &clock);
  auto heads = (*store)->ReadAllHeads();
  EXPECT_TRUE(heads.ok());
  for (const VersionHead& head : *heads) {
    EXPECT_TRUE(ledger.Verify(head.instance_id).ok()) << head.instance_id;
    versions[head.instance_id] = head.version;
  }
  return versions;
}

std::string Fetch(const std::string& endpoint, const std::string& path) {
  auto host_port = ParseHostPort(endpoint);
  if (!host_port.ok()) {
    return "";
  }
  auto response = HttpRequest("GET", host_port->first, host_port->second, path);
  return response.ok() ? response->body : "";
}

TEST(DaemonLifecycle, SigtermStopsCleanlyAndARestartLosesNothing) {
  TempDir dir;
  DaemonProcess daemon(dir.path());
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  Apply(daemon.client(), ProcessFleetYaml(2));
  ASSERT_TRUE(WaitUntil([&] { return AllReady(daemon.client(), 2); })) << daemon.log();
  for (int i = 0; i < 5; ++i) {
    RecordChange(daemon.client(), "app", absl::StrCat("v", i));
  }
  ASSERT_TRUE(WaitUntil([&] { return AllReady(daemon.client(), 2, 6); })) << daemon.log();
  nlohmann::json before = GetJson(daemon.client(), "/api/v1/instances");

  daemon.Signal(SIGTERM);
  EXPECT_EQ(daemon.WaitExit(absl::Seconds(10)), std::optional<int>(0)) << daemon.log();
  EXPECT_THAT(daemon.log(), ::testing::HasSubstr("daemon stopped"));
  // The fleet outlives its control plane.
  for (const nlohmann::json& instance : before) {
    EXPECT_THAT(Fetch(instance["live"]["endpoint"], "/"), ::testing::StartsWith("v4"));
  }
  std::map<std::string, int64_t> versions = VerifyLedger(daemon.state_dir());
  EXPECT_EQ(versions, (std::map<std::string, int64_t>{{"app-0", 6}, {"app-1", 6}}));

  ASSERT_TRUE(daemon.Start()) << daemon.log();
  ASSERT_TRUE(WaitUntil([&] { return AllReady(daemon.client(), 2, 6); })) << daemon.log();
  nlohmann::json after = GetJson(daemon.client(), "/api/v1/instances");
  for (size_t i = 0; i < before.size(); ++i) {
    // The same live and shadow replicas: nothing was rebuilt after the restart.
    EXPECT_EQ(after[i]["live"]["providerId"], before[i]["live"]["providerId"]);
    EXPECT_EQ(after[i]["shadow"]["replica"], before[i]["shadow"]["replica"]);
  }
  EXPECT_EQ(GetJson(daemon.client(), "/api/v1/instances/app-0/versions").size(), 6u);
}

TEST(DaemonLifecycle, AKillDuringDeltaApplicationLeavesTheLedgerAndLiveIntact) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.path() + "/wrapper.py", kWrapper).ok());
  DaemonProcess daemon(dir.path());
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  Apply(daemon.client(), ExecFleetYaml(dir.path(), 2, "            APPLY_DELAY: \"1.0\""));
  ASSERT_TRUE(WaitUntil([&] { return AllReady(daemon.client(), 2); }, absl::Seconds(60)))
      << daemon.log();

  for (int round = 2; round <= 3; ++round) {
    RecordChange(daemon.client(), "ex", absl::StrCat("round", round));
    // Kill the daemon while a shadow is applying the new version.
    bool applying = WaitUntil(
        [&] {
          absl::StatusOr<nlohmann::json> instances = daemon.client().Get("/api/v1/instances");
          if (!instances.ok()) {
            return false;
          }
          for (const nlohmann::json& i : *instances) {
            if (i["shadowPhase"] == "Applying") {
              return true;
            }
          }
          return false;
        },
        absl::Seconds(30));
    ASSERT_TRUE(applying) << daemon.log();
    nlohmann::json instances = GetJson(daemon.client(), "/api/v1/instances");
    daemon.Signal(SIGKILL);
    ASSERT_TRUE(daemon.WaitExit().has_value());
    // With no control plane at all, live keeps serving.
    for (const nlohmann::json& i : instances) {
      EXPECT_FALSE(Fetch(i["live"]["endpoint"], "/").empty()) << i["id"];
    }

    // The ledger is whole, and live runs the newest version untouched by the crash.
    std::map<std::string, int64_t> versions = VerifyLedger(daemon.state_dir());
    EXPECT_EQ(versions, (std::map<std::string, int64_t>{{"ex-0", round}, {"ex-1", round}}));

    ASSERT_TRUE(daemon.Start()) << daemon.log();
    ASSERT_TRUE(WaitUntil([&] { return AllReady(daemon.client(), 2, round); }, absl::Seconds(60)))
        << GetJson(daemon.client(), "/api/v1/readiness").dump(2);
    for (const nlohmann::json& i : GetJson(daemon.client(), "/api/v1/instances")) {
      EXPECT_THAT(Fetch(i["live"]["endpoint"], "/"),
                  ::testing::StartsWith(absl::StrCat("round", round)));
      EXPECT_THAT(Fetch(i["shadow"]["endpoint"], "/"),
                  ::testing::StartsWith(absl::StrCat("round", round)));
    }
  }
  // Exactly one live and one shadow replica per instance: nothing leaked across crashes.
  EXPECT_EQ(ReplicaPids(dir.path() + "/plugin").size(), 4u);
}

TEST(DaemonLifecycle, AFailingProviderIsContainedAndBacksOff) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.path() + "/wrapper.py", kWrapper).ok());
  DaemonProcess daemon(dir.path());
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  Apply(daemon.client(), ExecFleetYaml(dir.path(), 1, "            FAIL_SHADOW_APPLY: \"1\""));
  ASSERT_TRUE(WaitUntil([&] { return AllReady(daemon.client(), 1); }, absl::Seconds(60)));
  RecordChange(daemon.client(), "ex", "new");

  ASSERT_TRUE(WaitUntil([&] {
    nlohmann::json r = GetJson(daemon.client(), "/api/v1/instances/ex-0/readiness");
    return r["reason"] == "Failed";
  })) << daemon.log();
  nlohmann::json instance = GetJson(daemon.client(), "/api/v1/instances/ex-0");
  EXPECT_THAT(instance["shadowRecord"]["lastError"].get<std::string>(),
              ::testing::HasSubstr("disk full"));
  EXPECT_GT(instance["shadowRecord"]["nextAttemptAt"].get<int64_t>(),
            absl::ToUnixMillis(absl::Now()) - 1000);
  // Live got the version; the ledger holds both versions; the daemon keeps serving.
  EXPECT_EQ(instance["liveVersion"], 2);
  EXPECT_THAT(Fetch(instance["live"]["endpoint"], "/"), ::testing::StartsWith("new"));
  EXPECT_EQ(GetJson(daemon.client(), "/api/v1/instances/ex-0/versions").size(), 2u);
  absl::StatusOr<HttpResponse> metrics = HttpRequest("GET", "127.0.0.1", daemon.port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_THAT(metrics->body,
              ::testing::HasSubstr("shadowfleet_provider_errors_total{operation=\"apply\","
                                   "provider=\"exec\"}"));
}

TEST(DaemonLifecycle, TwoDaemonsShareOneStoreAndOneActsAtATime) {
  TempDir dir;
  std::string state = dir.path() + "/shared-state";
  DaemonProcess first(dir.path() + "/a", "  leaseTtl: 2s\n", state);
  DaemonProcess second(dir.path() + "/b", "  leaseTtl: 2s\n", state);
  ASSERT_TRUE(first.Start()) << first.log();
  ASSERT_TRUE(
      WaitUntil([&] { return GetJson(first.client(), "/api/v1/status")["leader"] == true; }));
  ASSERT_TRUE(second.Start()) << second.log();
  Apply(second.client(), ProcessFleetYaml(1));  // Either daemon accepts changes.
  ASSERT_TRUE(WaitUntil([&] { return AllReady(first.client(), 1); })) << first.log();
  EXPECT_EQ(GetJson(second.client(), "/api/v1/status")["leader"], false);
  ASSERT_TRUE(WaitUntil([&] { return AllReady(second.client(), 1); }))
      << "the standby's view follows the store";

  first.Signal(SIGKILL);
  ASSERT_TRUE(first.WaitExit().has_value());
  ASSERT_TRUE(
      WaitUntil([&] { return GetJson(second.client(), "/api/v1/status")["leader"] == true; },
                absl::Seconds(10)))
      << second.log();
  RecordChange(second.client(), "app", "after-failover");
  ASSERT_TRUE(WaitUntil([&] { return AllReady(second.client(), 1, 2); })) << second.log();
}

}  // namespace
}  // namespace shadowfleet::testing

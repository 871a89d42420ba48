// The exec plug-in protocol with real plug-in scripts written by each test: the operation as
// the last argument, a JSON request on stdin, a JSON response on stdout, and clear errors for
// failing, silent, confused or hanging plug-ins.
#include "shadowfleet/provider/exec_provider.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "testing/temp_dir.h"

#include "shadowfleet/common/clock.h"
#include "shadowfleet/common/files.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::TempDir;
using ::testing::HasSubstr;

// A plug-in that logs every call (argv, environment, request) to $PLUGIN_LOG and answers
// each operation with a fixed, valid response.
constexpr char kGoodPlugin[] = R"(#!/usr/bin/python3
import json, os, sys
operation = sys.argv[-1]
request = json.load(sys.stdin)
with open(os.environ["PLUGIN_LOG"], "a") as log:
    log.write(json.dumps({"argv": sys.argv[1:], "token": os.environ.get("TOKEN_FILE"),
                          "request": request}) + "\n")
replica = request.get("replica")
responses = {
    "create": {"providerId": "vm-" + str(replica), "endpoint": "10.0.0.5:8080",
               "state": {"zone": "eu-1a"}},
    "apply": {"endpoint": "10.0.0.6:8080", "state": {"pid": 1234}},
    "check": {"phase": "running", "healthy": True, "appliedVersion": 7, "detail": "ok"},
    "terminate": {},
    "list": {"replicas": [
        {"instance": "web-0", "role": "live", "providerId": "vm-1", "endpoint": "10.0.0.1:80",
         "state": {"zone": "a"}},
        {"instance": "web-0", "role": "shadow", "replica": "web-0-s3", "providerId": "vm-2"}]},
    "observe": {"configuration": {"software": {"openssl": "3.0.16"}}},
}
print(json.dumps(responses[operation]))
)";

class ExecProviderTest : public ::testing::Test {
 protected:
  // Writes an executable plug-in script and returns its path.
  std::string WritePlugin(const std::string& name, const std::string& script) {
    std::string path = dir_.File(name);
    EXPECT_TRUE(WriteFileAtomically(path, script).ok());
    chmod(path.c_str(), 0755);
    return path;
  }

  // A provider running `argv` (the operation is appended) with `timeout`.
  std::unique_ptr<ExecProvider> Provider(std::vector<std::string> argv,
                                         absl::Duration timeout = absl::Seconds(20)) {
    ExecProviderSettings settings;
    settings.command = std::move(argv);
    settings.env = {{"PLUGIN_LOG", dir_.File("calls.log")}, {"TOKEN_FILE", "{state}/token"}};
    settings.timeout = timeout;
    GroupSpec group;
    group.name = "web";
    group.provider.name = "exec";
    group.provider.settings = settings;
    ProviderEnvironment environment;
    environment.clock = &clock_;
    environment.bin_dir = dir_.path();
    environment.state_dir = "/var/lib/shadowfleet";
    return std::make_unique<ExecProvider>(group, environment);
  }

  // A provider whose plug-in is a shell script answering every operation with `body`.
  std::unique_ptr<ExecProvider> ScriptProvider(const std::string& body,
                                               absl::Duration timeout = absl::Seconds(20)) {
    std::string name = absl::StrCat("plugin-", ++scripts_, ".sh");
    return Provider({WritePlugin(name, "#!/bin/bash\n" + body)}, timeout);
  }

  // Every call the logging plug-in received, oldest first.
  std::vector<nlohmann::json> Calls() {
    std::vector<nlohmann::json> calls;
    for (absl::string_view line :
         absl::StrSplit(ReadFile(dir_.File("calls.log")).value_or(""), '\n', absl::SkipEmpty())) {
      calls.push_back(nlohmann::json::parse(line));
    }
    return calls;
  }

  Replica SampleReplica() {
    Replica r;
    r.id = "web-0-s3";
    r.provider_id = "vm-9";
    r.endpoint = "10.0.0.9:80";
    r.provider_state = {{"zone", "b"}};
    return r;
  }

  TempDir dir_;
  FakeClock clock_;
  int scripts_ = 0;
};

TEST_F(ExecProviderTest, CreateSendsTheRequestAndReadsTheReplica) {
  WritePlugin("plugin.py", kGoodPlugin);
  std::unique_ptr<ExecProvider> provider = Provider({"{bin}/plugin.py", "--region", "eu"});
  CreateRequest request;
  request.replica_id = "web-0-s3";
  request.instance_id = "web-0";
  request.fleet = "shop";
  request.group = "web";
  request.role = Role::kShadow;
  request.configuration = {{"config", {{"workers", 4}}}};
  request.version = 5;
  absl::StatusOr<Replica> replica = provider->Create(request);
  ASSERT_TRUE(replica.ok()) << replica.status();
  EXPECT_EQ(replica->id, "web-0-s3");
  EXPECT_EQ(replica->provider_id, "vm-web-0-s3");
  EXPECT_EQ(replica->endpoint, "10.0.0.5:8080");
  EXPECT_EQ(replica->provider_state, nlohmann::json({{"zone", "eu-1a"}}));
  EXPECT_EQ(replica->created_at, clock_.Now());

  std::vector<nlohmann::json> calls = Calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0]["argv"], nlohmann::json({"--region", "eu", "create"}))
      << "{bin} is substituted and the operation appended";
  EXPECT_EQ(calls[0]["token"], "/var/lib/shadowfleet/token") << "{state} in env is substituted";
  const nlohmann::json& sent = calls[0]["request"];
  EXPECT_EQ(sent["apiVersion"], kApiVersion);
  EXPECT_EQ(sent["operation"], "create");
  EXPECT_EQ(sent["group"], "web");
  EXPECT_EQ(sent["replica"], "web-0-s3");
  EXPECT_EQ(sent["instance"], "web-0");
  EXPECT_EQ(sent["fleet"], "shop");
  EXPECT_EQ(sent["role"], "shadow");
  EXPECT_EQ(sent["version"], 5);
  EXPECT_EQ(sent["configuration"], request.configuration);
}

TEST_F(ExecProviderTest, ApplySendsTheVersionAndDeltaAndKeepsTheReplicasIdentity) {
  std::unique_ptr<ExecProvider> provider = Provider({WritePlugin("plugin.py", kGoodPlugin)});
  nlohmann::json delta =
      nlohmann::json::parse(R"([{"op": "replace", "path": "/config/workers", "value": 8}])");
  absl::StatusOr<Replica> updated =
      provider->Apply(SampleReplica(), {{{"config", {{"workers", 8}}}}, delta, 6});
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->id, "web-0-s3");
  EXPECT_EQ(updated->provider_id, "vm-9");
  EXPECT_EQ(updated->endpoint, "10.0.0.6:8080");
  EXPECT_EQ(updated->provider_state, nlohmann::json({{"pid", 1234}}));

  std::vector<nlohmann::json> calls = Calls();
  ASSERT_EQ(calls.size(), 1u);
  const nlohmann::json& sent = calls[0]["request"];
  EXPECT_EQ(sent["operation"], "apply");
  EXPECT_EQ(sent["version"], 6);
  EXPECT_EQ(sent["delta"], delta);
  EXPECT_EQ(sent["replica"]["providerId"], "vm-9");
  EXPECT_EQ(sent["replica"]["providerState"], nlohmann::json({{"zone", "b"}}));
}

TEST_F(ExecProviderTest, CheckTerminateListAndObserveReadTheirResponses) {
  std::unique_ptr<ExecProvider> provider = Provider({WritePlugin("plugin.py", kGoodPlugin)});
  absl::StatusOr<ReplicaStatus> status = provider->Check(SampleReplica());
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->phase, ReplicaPhase::kRunning);
  EXPECT_TRUE(status->healthy);
  EXPECT_EQ(status->applied_version, 7);
  EXPECT_EQ(status->detail, "ok");

  EXPECT_TRUE(provider->Terminate(SampleReplica()).ok());

  absl::StatusOr<std::vector<ListedReplica>> listed = provider->List();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].instance_id, "web-0");
  EXPECT_EQ((*listed)[0].group, "web");
  EXPECT_EQ((*listed)[0].role, Role::kLive);
  EXPECT_EQ((*listed)[0].replica.id, "web-0") << "the replica id defaults to the instance";
  EXPECT_EQ((*listed)[0].replica.provider_id, "vm-1");
  EXPECT_EQ((*listed)[0].replica.endpoint, "10.0.0.1:80");
  EXPECT_EQ((*listed)[0].replica.provider_state, nlohmann::json({{"zone", "a"}}));
  EXPECT_EQ((*listed)[1].role, Role::kShadow);
  EXPECT_EQ((*listed)[1].replica.id, "web-0-s3");

  absl::StatusOr<std::optional<nlohmann::json>> observed = provider->Observe(SampleReplica());
  ASSERT_TRUE(observed.ok()) << observed.status();
  ASSERT_TRUE(observed->has_value());
  EXPECT_EQ(**observed, nlohmann::json({{"software", {{"openssl", "3.0.16"}}}}));

  std::vector<std::string> operations;
  for (const nlohmann::json& call : Calls()) {
    operations.push_back(call["request"]["operation"]);
  }
  EXPECT_THAT(operations, ::testing::ElementsAre("check", "terminate", "list", "observe"));
}

TEST_F(ExecProviderTest, CheckDefaultsOptionalFieldsAndObserveMayReportNothing) {
  std::unique_ptr<ExecProvider> provider = ScriptProvider(R"(
case "$1" in
  check) echo '{"phase": "building"}' ;;
  observe) echo '{"configuration": null}' ;;
esac
)");
  absl::StatusOr<ReplicaStatus> status = provider->Check(SampleReplica());
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->phase, ReplicaPhase::kBuilding);
  EXPECT_FALSE(status->healthy);
  EXPECT_EQ(status->applied_version, -1) << "-1: the provider cannot tell";
  EXPECT_EQ(status->detail, "");
  absl::StatusOr<std::optional<nlohmann::json>> observed = provider->Observe(SampleReplica());
  ASSERT_TRUE(observed.ok()) << observed.status();
  EXPECT_FALSE(observed->has_value());
}

TEST_F(ExecProviderTest, ANonZeroExitCarriesThePluginsError) {
  std::unique_ptr<ExecProvider> provider =
      ScriptProvider("echo '{\"error\": \"quota exceeded in eu-1\"}'\necho noise >&2\nexit 3\n");
  absl::StatusOr<Replica> replica = provider->Create(CreateRequest{"web-0-s1", "web-0"});
  ASSERT_FALSE(replica.ok());
  EXPECT_EQ(replica.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(replica.status().message(), HasSubstr("create"));
  EXPECT_THAT(replica.status().message(), HasSubstr("exited with 3"));
  EXPECT_THAT(replica.status().message(), HasSubstr("quota exceeded in eu-1"));
}

TEST_F(ExecProviderTest, ANonZeroExitWithoutAnErrorFieldCarriesStderr) {
  std::unique_ptr<ExecProvider> provider =
      ScriptProvider("echo 'cloud API: 403 forbidden' >&2\nexit 1\n");
  absl::Status status = provider->Terminate(SampleReplica());
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("terminate"));
  EXPECT_THAT(status.message(), HasSubstr("cloud API: 403 forbidden"));
}

TEST_F(ExecProviderTest, OutputThatIsNotAJsonObjectIsInvalidArgumentNamingTheOperation) {
  std::unique_ptr<ExecProvider> text = ScriptProvider("echo 'all good!'\n");
  absl::StatusOr<ReplicaStatus> status = text->Check(SampleReplica());
  EXPECT_EQ(status.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.status().message(), HasSubstr("check"));
  EXPECT_THAT(status.status().message(), HasSubstr("all good!"));

  std::unique_ptr<ExecProvider> array = ScriptProvider("echo '[1, 2]'\n");
  EXPECT_EQ(array->List().status().code(), absl::StatusCode::kInvalidArgument);
  std::unique_ptr<ExecProvider> silent = ScriptProvider("exit 0\n");
  absl::Status terminated = silent->Terminate(SampleReplica());
  EXPECT_EQ(terminated.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(terminated.message(), HasSubstr("terminate"));
}

TEST_F(ExecProviderTest, AFieldOfTheWrongTypeIsAnErrorNamingTheField) {
  std::unique_ptr<ExecProvider> check =
      ScriptProvider(R"(echo '{"phase": "running", "healthy": "yes"}')");
  absl::StatusOr<ReplicaStatus> status = check->Check(SampleReplica());
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.status().message(), HasSubstr("\"healthy\""));
  EXPECT_THAT(status.status().message(), HasSubstr("wrong type"));

  std::unique_ptr<ExecProvider> version =
      ScriptProvider(R"(echo '{"phase": "running", "appliedVersion": "7"}')");
  EXPECT_THAT(version->Check(SampleReplica()).status().message(), HasSubstr("appliedVersion"));

  std::unique_ptr<ExecProvider> create = ScriptProvider(R"(echo '{"providerId": 42}')");
  absl::StatusOr<Replica> replica = create->Create(CreateRequest{"web-0-s1", "web-0"});
  ASSERT_FALSE(replica.ok());
  EXPECT_EQ(replica.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(replica.status().message(), HasSubstr("\"providerId\""));

  std::unique_ptr<ExecProvider> list =
      ScriptProvider(R"(echo '{"replicas": [{"instance": "web-0", "providerId": ["x"]}]}')");
  EXPECT_THAT(list->List().status().message(), HasSubstr("providerId"));
}

TEST_F(ExecProviderTest, MissingOrMeaninglessFieldsAreErrors) {
  std::unique_ptr<ExecProvider> no_phase = ScriptProvider(R"(echo '{"healthy": true}')");
  EXPECT_THAT(no_phase->Check(SampleReplica()).status().message(), HasSubstr("lacks \"phase\""));
  std::unique_ptr<ExecProvider> bad_phase = ScriptProvider(R"(echo '{"phase": "sleeping"}')");
  EXPECT_THAT(bad_phase->Check(SampleReplica()).status().message(), HasSubstr("sleeping"));
  std::unique_ptr<ExecProvider> no_id = ScriptProvider(R"(echo '{"endpoint": "x"}')");
  EXPECT_THAT(no_id->Create(CreateRequest{"web-0-s1", "web-0"}).status().message(),
              HasSubstr("lacks \"providerId\""));
  std::unique_ptr<ExecProvider> no_replicas = ScriptProvider(R"(echo '{}')");
  EXPECT_THAT(no_replicas->List().status().message(), HasSubstr("\"replicas\""));
  std::unique_ptr<ExecProvider> not_objects = ScriptProvider(R"(echo '{"replicas": [1]}')");
  EXPECT_EQ(not_objects->List().status().code(), absl::StatusCode::kInvalidArgument);
  std::unique_ptr<ExecProvider> no_instance =
      ScriptProvider(R"(echo '{"replicas": [{"providerId": "vm-1"}]}')");
  EXPECT_THAT(no_instance->List().status().message(), HasSubstr("\"instance\""));
  std::unique_ptr<ExecProvider> bad_observe = ScriptProvider(R"(echo '{"configuration": 5}')");
  EXPECT_EQ(bad_observe->Observe(SampleReplica()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ExecProviderTest, AMissingPluginIsAnErrorNamingIt) {
  std::unique_ptr<ExecProvider> provider = Provider({dir_.File("no-such-plugin")});
  absl::StatusOr<ReplicaStatus> status = provider->Check(SampleReplica());
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.status().message(), HasSubstr("no-such-plugin"));
}

TEST_F(ExecProviderTest, GivesUpOnAHangingPluginAfterItsTimeout) {
  std::unique_ptr<ExecProvider> provider = ScriptProvider("sleep 30\n", absl::Milliseconds(300));
  absl::Time start = absl::Now();
  absl::StatusOr<ReplicaStatus> status = provider->Check(SampleReplica());
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.status().message(), HasSubstr("did not finish within 300ms"));
}

// ExecProvider::Call wraps every RunCommand failure as UNAVAILABLE, so a timeout loses its
// DEADLINE_EXCEEDED code (and a missing plug-in its NOT_FOUND).
TEST_F(ExecProviderTest, AHangingPluginIsDeadlineExceeded) {
  std::unique_ptr<ExecProvider> provider = ScriptProvider("sleep 30\n", absl::Milliseconds(300));
  EXPECT_EQ(provider->Check(SampleReplica()).status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(ExecProviderTest, SyncVolumeRunsTheVolumeCommandWithItsPlaceholders) {
  std::string args_file = dir_.File("args");
  WritePlugin("sync.sh", "#!/bin/bash\necho \"$@\" > " + args_file + "\n");
  std::unique_ptr<ExecProvider> provider = ScriptProvider("echo '{}'\n");
  Replica live = SampleReplica();
  live.id = "web-0-l1";
  live.provider_id = "vm-live";
  Replica shadow = SampleReplica();
  VolumeSpec volume;
  volume.name = "pgdata";
  volume.method = VolumeSyncMethod::kCommand;
  volume.command = {dir_.File("sync.sh"), "{source}:/data", "{target}:/data", "{instance}",
                    "{volume}"};
  absl::StatusOr<VolumeSyncResult> synced = provider->SyncVolume(live, shadow, volume);
  ASSERT_TRUE(synced.ok()) << synced.status();
  EXPECT_EQ(synced->synced_as_of, clock_.Now());
  EXPECT_EQ(ReadFile(args_file).value_or(""), "vm-live:/data vm-9:/data web-0-s3 pgdata\n");

  WritePlugin("sync.sh", "#!/bin/bash\necho 'rsync: connection refused' >&2\nexit 12\n");
  absl::StatusOr<VolumeSyncResult> failed = provider->SyncVolume(live, shadow, volume);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(failed.status().message(), HasSubstr("exited with 12"));
  EXPECT_THAT(failed.status().message(), HasSubstr("connection refused"));
}

}  // namespace
}  // namespace shadowfleet

// The live manager on a fake clock with a fake provider: instances follow the spec, spec
// changes become "spec" versions carried onto each instance's own history, recorded versions
// are pushed to live, live's actual configuration is observed, and live replicas are reported
// on but never replaced.
#include "shadowfleet/fleet/live_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_replace.h"
#include "testing/test_fleet.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::FleetYaml;
using ::shadowfleet::testing::TestFleet;
using ::testing::ElementsAre;

std::string LiveReplicaOf(TestFleet& f, const std::string& id) {
  Cached<InstanceRecord> i = f.state->Instance(id);
  return i && i->live ? i->live->id : "";
}

std::string ShadowReplicaOf(TestFleet& f, const std::string& id) {
  Cached<ShadowRecord> s = f.state->Shadow(id);
  return s && s->replica ? s->replica->id : "";
}

int64_t HeadVersion(TestFleet& f, const std::string& id) {
  std::optional<VersionHead> head = f.ledger->Head(id).value();
  return head ? head->version : 0;
}

nlohmann::json Latest(TestFleet& f, const std::string& id) {
  return f.ledger->Document(id, HeadVersion(f, id)).value();
}

int CallsTo(TestFleet& f, const std::string& operation, const std::string& replica) {
  int n = 0;
  for (const auto& call : f.provider->calls()) {
    n += call.operation == operation && call.replica_id == replica ? 1 : 0;
  }
  return n;
}

std::vector<std::string> EventKinds(TestFleet& f, const std::string& subject) {
  std::vector<std::string> kinds;
  std::vector<EventRecord> events = f.store->ListEvents({subject, "", 0, 1000}).value();
  for (const EventRecord& e : events) {
    kinds.push_back(e.kind);
  }
  return kinds;
}

void RecordPatchOrDie(TestFleet& f, const std::string& id, const std::string& patch) {
  absl::StatusOr<RecordResult> recorded = f.ledger->RecordPatch(
      id, nlohmann::json::parse(patch), {"alice", "tuning", ChangeSource::kRecorded});
  ASSERT_TRUE(recorded.ok()) << recorded.status();
}

TEST(LiveManager, CreatesOneInstanceWithARunningLiveReplicaPerReplica) {
  TestFleet f;
  f.Apply(FleetYaml("web", 3));
  f.Settle();

  ASSERT_THAT(f.state->InstanceIds(), ElementsAre("web-0", "web-1", "web-2"));
  nlohmann::json rendered = RenderConfiguration(*f.state->Group("web"));
  for (int i = 0; i < 3; ++i) {
    std::string id = InstanceIdFor("web", i);
    Cached<InstanceRecord> instance = f.state->Instance(id);
    EXPECT_EQ(instance->fleet, "test");
    EXPECT_EQ(instance->group, "web");
    EXPECT_EQ(instance->index, i);
    EXPECT_EQ(instance->live_phase, LivePhase::kRunning) << id;
    EXPECT_EQ(instance->live_version, 1);
    EXPECT_EQ(instance->spec_generation, 1);
    ASSERT_TRUE(instance->live.has_value());
    EXPECT_EQ(instance->live->id, id + "-l1");

    VersionInfo info = f.ledger->Info(id, 1).value();
    EXPECT_EQ(info.source, ChangeSource::kSpec);
    EXPECT_EQ(f.ledger->Document(id, 1).value(), rendered);
    std::optional<testing::FakeProvider::FakeReplica> live = f.provider->Get(instance->live->id);
    ASSERT_TRUE(live.has_value());
    EXPECT_EQ(live->role, Role::kLive);
    EXPECT_EQ(live->configuration, rendered);
    EXPECT_EQ(CallsTo(f, "create", instance->live->id), 1);
  }
}

TEST(LiveManager, CarriesASpecChangeOntoEachInstanceWithoutUndoingItsOwnChanges) {
  TestFleet f;
  f.Apply(FleetYaml("web", 2));
  f.Settle();
  // web-0 has a change of its own, recorded before the spec changes.
  RecordPatchOrDie(f, "web-0", R"([{"op": "add", "path": "/config/cache", "value": "on"},
                                   {"op": "replace", "path": "/config/workers", "value": 8}])");
  f.Settle();

  f.Apply(absl::StrReplaceAll(FleetYaml("web", 2), {{"3.0.15", "3.0.16"}}));
  f.Settle();

  EXPECT_EQ(HeadVersion(f, "web-0"), 3);
  VersionInfo spec_version = f.ledger->Info("web-0", 3).value();
  EXPECT_EQ(spec_version.source, ChangeSource::kSpec);
  EXPECT_THAT(spec_version.reason, ::testing::HasSubstr("generation 2"));
  nlohmann::json web0 = Latest(f, "web-0");
  EXPECT_EQ(web0["software"]["openssl"], "3.0.16");
  EXPECT_EQ(web0["config"]["cache"], "on");
  EXPECT_EQ(web0["config"]["workers"], 8);

  EXPECT_EQ(HeadVersion(f, "web-1"), 2);
  nlohmann::json web1 = Latest(f, "web-1");
  EXPECT_EQ(web1["software"]["openssl"], "3.0.16");
  EXPECT_EQ(web1["config"]["workers"], 4);
  EXPECT_FALSE(web1["config"].contains("cache"));

  for (const char* id : {"web-0", "web-1"}) {
    Cached<InstanceRecord> instance = f.state->Instance(id);
    EXPECT_EQ(instance->spec_generation, 2);
    EXPECT_EQ(instance->live_version, HeadVersion(f, id)) << "the spec version reached live";
    EXPECT_EQ(f.provider->Get(instance->live->id)->configuration, Latest(f, id));
  }
}

TEST(LiveManager, ReapplyingTheSameSpecRecordsNoVersion) {
  TestFleet f;
  f.Apply(FleetYaml("web", 1));
  f.Settle();
  f.Apply(FleetYaml("web", 1));
  f.Settle();
  EXPECT_EQ(HeadVersion(f, "web-0"), 1);
}

TEST(ApplyPatchTolerantly, AppliesOperationsThatFitAndSkipsThoseThatNoLongerDo) {
  nlohmann::json document = nlohmann::json::parse(R"({"a": 1, "b": {"c": 2}, "list": [1, 2]})");
  nlohmann::json patch = nlohmann::json::parse(R"([
    {"op": "replace", "path": "/a", "value": 10},
    {"op": "remove", "path": "/gone"},
    {"op": "replace", "path": "/missing", "value": "added"},
    {"op": "add", "path": "/no/parent", "value": 1},
    {"op": "replace", "path": "/b/c", "value": 3},
    {"op": "add", "path": "/list/-", "value": 3},
    {"op": "remove", "path": "/list/7"}
  ])");
  EXPECT_EQ(
      ApplyPatchTolerantly(document, patch),
      nlohmann::json::parse(R"({"a": 10, "b": {"c": 3}, "list": [1, 2, 3], "missing": "added"})"));
  EXPECT_EQ(ApplyPatchTolerantly(document, nlohmann::json::array()), document);
}

TEST(LiveManager, PushesARecordedVersionToLiveOnce) {
  TestFleet f;
  f.Apply(FleetYaml("web", 2));
  f.Settle();
  f.provider->ClearCalls();
  RecordPatchOrDie(f, "web-0", R"([{"op": "add", "path": "/config/cache", "value": "on"}])");
  f.Settle();

  std::string live = LiveReplicaOf(f, "web-0");
  std::vector<int64_t> pushed;
  for (const auto& call : f.provider->calls()) {
    if (call.operation == "apply" && call.replica_id == live) {
      pushed.push_back(call.version);
    }
  }
  EXPECT_THAT(pushed, ElementsAre(2));
  EXPECT_EQ(f.state->Instance("web-0")->live_version, 2);
  EXPECT_EQ(f.provider->Get(live)->configuration, f.ledger->Document("web-0", 2).value());
  EXPECT_EQ(CallsTo(f, "apply", LiveReplicaOf(f, "web-1")), 0);
  EXPECT_THAT(EventKinds(f, "web-0"), ::testing::Contains("live.version_applied"));
}

TEST(LiveManager, AnObservedDifferenceBecomesAnObservedVersionThatIsNotPushedBack) {
  TestFleet f;
  f.Apply(FleetYaml("web", 1));
  f.Settle();
  std::string live = LiveReplicaOf(f, "web-0");
  ASSERT_TRUE(f.provider->SetObserved(live, {{"config", {{"workers", 16}}}}));
  f.provider->ClearCalls();
  f.clock.Advance(absl::Seconds(31));
  f.Settle();

  ASSERT_EQ(HeadVersion(f, "web-0"), 2);
  VersionInfo observed = f.ledger->Info("web-0", 2).value();
  EXPECT_EQ(observed.source, ChangeSource::kObserved);
  EXPECT_EQ(observed.author, "observer");
  nlohmann::json expected = f.ledger->Document("web-0", 1).value();
  expected["config"]["workers"] = 16;
  EXPECT_EQ(f.ledger->Document("web-0", 2).value(), expected);
  EXPECT_EQ(f.state->Instance("web-0")->live_version, 2) << "live already runs it";
  EXPECT_EQ(CallsTo(f, "apply", live), 0) << "an observed version is not pushed back to live";

  // The same observation later is no new difference.
  f.clock.Advance(absl::Seconds(31));
  f.Settle();
  EXPECT_EQ(HeadVersion(f, "web-0"), 2);
}

TEST(LiveManager, ObservesOnlyOnTheObserveInterval) {
  TestFleet f;
  f.Apply(FleetYaml("web", 1));
  f.Settle();
  std::string live = LiveReplicaOf(f, "web-0");
  f.clock.Advance(absl::Seconds(31));
  f.Step();
  f.provider->ClearCalls();
  for (int i = 0; i < 5; ++i) {
    f.clock.Advance(absl::Seconds(5));
    f.Step();
  }
  EXPECT_EQ(CallsTo(f, "observe", live), 0) << "25 s is less than the 30 s interval";
  f.clock.Advance(absl::Seconds(6));
  f.Step();
  EXPECT_EQ(CallsTo(f, "observe", live), 1);
}

TEST(LiveManager, DoesNotObserveWhileARecordedVersionIsStillOnItsWayToLive) {
  TestFleet f;
  f.Apply(FleetYaml("web", 1));
  f.Settle();
  std::string live = LiveReplicaOf(f, "web-0");
  f.provider->FailApply(absl::UnavailableError("live is busy"), Role::kLive);
  RecordPatchOrDie(f, "web-0", R"([{"op": "add", "path": "/config/cache", "value": "on"}])");
  // Live still runs version 1 and reports it: read back, it would undo version 2.
  ASSERT_TRUE(f.provider->SetObserved(live, {{"config", {{"cache", nullptr}}}}));
  f.provider->ClearCalls();
  for (int i = 0; i < 6; ++i) {
    f.clock.Advance(absl::Seconds(31));
    f.Step();
  }
  EXPECT_GT(CallsTo(f, "apply", live), 0);
  EXPECT_EQ(CallsTo(f, "observe", live), 0);
  EXPECT_EQ(HeadVersion(f, "web-0"), 2);
  EXPECT_EQ(f.state->Instance("web-0")->live_version, 1);
  EXPECT_THAT(f.state->Instance("web-0")->live_error, ::testing::HasSubstr("live is busy"));

  // Once live runs version 2, an observation is taken at face value again.
  f.provider->FailApply(absl::OkStatus());
  ASSERT_TRUE(f.provider->SetObserved(live, {{"config", {{"cache", "off"}}}}));
  f.clock.Advance(absl::Minutes(10));
  f.Settle();
  f.clock.Advance(absl::Seconds(31));
  f.Settle();
  EXPECT_EQ(f.state->Instance("web-0")->live_version, HeadVersion(f, "web-0"));
  EXPECT_EQ(HeadVersion(f, "web-0"), 3);
  EXPECT_EQ(f.ledger->Info("web-0", 3).value().source, ChangeSource::kObserved);
  EXPECT_EQ(Latest(f, "web-0")["config"]["cache"], "off");
}

TEST(LiveManager, ScalingDownRemovesInstancesAndTheirReplicasButKeepsTheirLedger) {
  TestFleet f;
  f.Apply(FleetYaml("web", 3));
  f.Settle();
  std::vector<std::string> gone_replicas = {LiveReplicaOf(f, "web-1"), ShadowReplicaOf(f, "web-1"),
                                            LiveReplicaOf(f, "web-2"), ShadowReplicaOf(f, "web-2")};
  std::string kept_live = LiveReplicaOf(f, "web-0");
  nlohmann::json web2_document = Latest(f, "web-2");

  f.Apply(FleetYaml("web", 1));
  f.Settle();

  EXPECT_THAT(f.state->InstanceIds(), ElementsAre("web-0"));
  for (const std::string& replica : gone_replicas) {
    EXPECT_FALSE(f.provider->Has(replica)) << replica << " was not terminated";
  }
  EXPECT_TRUE(f.provider->Has(kept_live));
  EXPECT_EQ(f.provider->size(), 2u) << "web-0's live and shadow remain";
  EXPECT_FALSE(f.state->Shadow("web-2"));
  EXPECT_EQ(HeadVersion(f, "web-2"), 1) << "the ledger is kept";
  EXPECT_EQ(f.ledger->Document("web-2", 1).value(), web2_document);
  EXPECT_THAT(EventKinds(f, "web-2"),
              ::testing::IsSupersetOf({"instance.removed", "shadow.removed", "instance.deleted"}));
  EXPECT_EQ(f.state->Instance("web-0")->live_phase, LivePhase::kRunning);
}

TEST(LiveManager, ReportsAFailedLiveReplicaAsLostAndNeverReplacesIt) {
  TestFleet f;
  f.Apply(FleetYaml("web", 1));
  f.Settle();
  std::string live = LiveReplicaOf(f, "web-0");
  ASSERT_TRUE(f.provider->SetStatus(live, ReplicaPhase::kFailed, false));
  f.provider->ClearCalls();
  for (int i = 0; i < 10; ++i) {
    f.clock.Advance(absl::Seconds(6));
    f.Step();
  }

  Cached<InstanceRecord> instance = f.state->Instance("web-0");
  EXPECT_EQ(instance->live_phase, LivePhase::kLost);
  EXPECT_EQ(instance->live->id, live) << "still the same replica";
  EXPECT_TRUE(f.provider->Has(live));
  EXPECT_EQ(CallsTo(f, "terminate", live), 0);
  for (const auto& call : f.provider->calls()) {
    EXPECT_FALSE(call.operation == "create" && call.replica_id.find("-l") != std::string::npos)
        << "the live manager created " << call.replica_id;
  }
  EXPECT_THAT(EventKinds(f, "web-0"), ::testing::Contains("live.lost"));

  // A replica the provider no longer knows is lost too.
  ASSERT_TRUE(f.provider->Terminate(*instance->live).ok());
  f.clock.Advance(absl::Seconds(6));
  f.Step();
  EXPECT_EQ(f.state->Instance("web-0")->live_phase, LivePhase::kLost);
}

TEST(LiveManager, ReplacesALostLiveReplicaWhenTheGroupAsksForIt) {
  TestFleet f;
  f.Apply(FleetYaml("web", 1, "      live: {replaceLostAfter: 30s}\n"));
  f.Settle();
  std::string lost = LiveReplicaOf(f, "web-0");
  ASSERT_TRUE(f.provider->SetStatus(lost, ReplicaPhase::kFailed, false));
  f.clock.Advance(absl::Seconds(6));
  f.Step();
  ASSERT_EQ(f.state->Instance("web-0")->live_phase, LivePhase::kLost);
  // Not before the grace period.
  f.clock.Advance(absl::Seconds(20));
  f.Step();
  EXPECT_EQ(LiveReplicaOf(f, "web-0"), lost);
  f.clock.Advance(absl::Seconds(11));
  f.Settle();
  std::string replacement = LiveReplicaOf(f, "web-0");
  EXPECT_NE(replacement, lost);
  EXPECT_FALSE(f.provider->Has(lost));
  EXPECT_EQ(f.state->Instance("web-0")->live_phase, LivePhase::kRunning);
  EXPECT_THAT(EventKinds(f, "web-0"), ::testing::Contains("live.replaced"));
  // The replacement runs the instance's newest configuration.
  EXPECT_EQ(f.provider->Get(replacement)->configuration, *f.ledger->Document("web-0", 1));
}

TEST(LiveManager, MarksLiveUnhealthyAfterTheFailureThresholdAndRunningWhenItRecovers) {
  TestFleet f;  // failureThreshold: 2, interval: 5s
  f.Apply(FleetYaml("web", 1));
  f.Settle();
  std::string live = LiveReplicaOf(f, "web-0");
  ASSERT_TRUE(f.provider->SetStatus(live, ReplicaPhase::kRunning, false));

  f.clock.Advance(absl::Seconds(5));
  f.Step();
  EXPECT_EQ(f.state->Instance("web-0")->live_phase, LivePhase::kRunning) << "one failure";
  f.clock.Advance(absl::Seconds(5));
  f.Step();
  EXPECT_EQ(f.state->Instance("web-0")->live_phase, LivePhase::kUnhealthy);

  ASSERT_TRUE(f.provider->SetStatus(live, ReplicaPhase::kRunning, true));
  f.clock.Advance(absl::Seconds(5));
  f.Step();
  EXPECT_EQ(f.state->Instance("web-0")->live_phase, LivePhase::kRunning);
  EXPECT_EQ(f.state->Instance("web-0")->live_error, "");
  EXPECT_THAT(EventKinds(f, "web-0"), ::testing::IsSupersetOf({"live.unhealthy", "live.running"}));
}

TEST(LiveManager, RetriesAFailedCreateAfterABackoff) {
  TestFleet f;
  f.provider->FailCreate(absl::UnavailableError("no capacity"));
  f.Apply(FleetYaml("web", 1));
  f.Step();
  f.Step();
  Cached<InstanceRecord> failed = f.state->Instance("web-0");
  EXPECT_THAT(failed->live_error, ::testing::HasSubstr("no capacity"));
  EXPECT_NE(failed->live_phase, LivePhase::kRunning);
  EXPECT_THAT(EventKinds(f, "web-0"), ::testing::Contains("live.failed"));

  // Within the backoff nothing is retried.
  f.provider->ClearCalls();
  f.Step();
  for (const auto& call : f.provider->calls()) {
    EXPECT_NE(call.operation, "create") << "backing off, yet created " << call.replica_id;
  }

  f.provider->FailCreate(absl::OkStatus());
  f.clock.Advance(absl::Minutes(10));
  f.Settle();
  Cached<InstanceRecord> instance = f.state->Instance("web-0");
  EXPECT_EQ(instance->live_phase, LivePhase::kRunning);
  EXPECT_EQ(instance->live_error, "");
  EXPECT_TRUE(f.provider->Has(instance->live->id));
}

TEST(LiveManager, AdoptsTheLiveReplicasTheProviderLists) {
  TestFleet f;
  f.provider->AddReplica("vm-17", "web-a", Role::kLive);
  f.provider->AddReplica("vm-18", "web-b", Role::kLive);
  f.provider->AddReplica("vm-19", "web-a", Role::kShadow);  // Not a live replica.
  f.Apply(R"(apiVersion: shadowfleet.dev/v1alpha1
kind: Fleet
metadata:
  name: test
spec:
  groups:
    - name: web
      instanceType: t.small
      provider:
        name: exec
        settings: {command: [plugin]}
      live: {mode: adopted}
)");
  f.Settle();

  ASSERT_THAT(f.state->InstanceIds(), ElementsAre("web-a", "web-b"));
  Cached<InstanceRecord> a = f.state->Instance("web-a");
  EXPECT_EQ(a->live->id, "vm-17");
  EXPECT_EQ(a->live_phase, LivePhase::kRunning);
  EXPECT_EQ(HeadVersion(f, "web-a"), 1);
  EXPECT_EQ(a->live_version, 1) << "adopted live instances run every recorded version";
  EXPECT_THAT(EventKinds(f, "web-a"), ::testing::Contains("instance.adopted"));
  for (const auto& call : f.provider->calls()) {
    EXPECT_FALSE(call.operation == "apply" && call.replica_id == "vm-17");
  }
}

}  // namespace
}  // namespace shadowfleet

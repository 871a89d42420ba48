// The Shadow Fleet Manager on a fake clock with a fake provider: one shadow per live
// instance, versions applied in order, failures backed off and broken shadows replaced, and
// never a call on a live replica.
#include "shadowfleet/shadow/shadow_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/test_fleet.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::FakeProvider;
using ::shadowfleet::testing::FleetYaml;
using ::shadowfleet::testing::TestFleet;

std::string ShadowReplicaOf(TestFleet& f, const std::string& id) {
  Cached<ShadowRecord> s = f.state->Shadow(id);
  return s && s->replica ? s->replica->id : "";
}

std::string LiveReplicaOf(TestFleet& f, const std::string& id) {
  Cached<InstanceRecord> i = f.state->Instance(id);
  return i && i->live ? i->live->id : "";
}

void RecordChange(TestFleet& f, const std::string& id, const std::string& key, int value) {
  nlohmann::json patch = {{{"op", "add"}, {"path", "/config/" + key}, {"value", value}}};
  auto recorded = f.ledger->RecordPatch(id, patch, {"alice", "tune", ChangeSource::kRecorded});
  ASSERT_TRUE(recorded.ok()) << recorded.status();
}

TEST(ShadowManager, CreatesExactlyOneReadyShadowPerLiveInstance) {
  TestFleet f;
  f.Apply(FleetYaml("web", 3));
  f.Settle();

  ASSERT_EQ(f.state->InstanceIds().size(), 3u);
  for (const std::string& id : f.state->InstanceIds()) {
    Readiness r = f.ReadinessOf(id);
    EXPECT_TRUE(r.ready) << id << ": " << r.detail;
    EXPECT_EQ(r.shadow_version, 1);
    EXPECT_NE(ShadowReplicaOf(f, id), "");
  }
  // Three live and three shadow replicas, nothing more.
  EXPECT_EQ(f.provider->size(), 6u);

  // Running more passes changes nothing: the reconciler is safe to run twice.
  f.provider->ClearCalls();
  f.Step();
  f.Step();
  for (const auto& call : f.provider->calls()) {
    EXPECT_NE(call.operation, "create");
    EXPECT_NE(call.operation, "apply");
    EXPECT_NE(call.operation, "terminate");
  }
}

TEST(ShadowManager, AppliesEveryNewVersionToTheShadowInOrder) {
  TestFleet f;
  f.Apply(FleetYaml("web", 1));
  f.Settle();
  RecordChange(f, "web-0", "a", 1);
  RecordChange(f, "web-0", "b", 2);
  RecordChange(f, "web-0", "c", 3);
  f.provider->ClearCalls();
  f.Settle();

  std::string shadow = ShadowReplicaOf(f, "web-0");
  std::vector<int64_t> shadow_versions;
  for (const auto& call : f.provider->calls()) {
    if (call.operation == "apply" && call.replica_id == shadow) {
      shadow_versions.push_back(call.version);
    }
  }
  EXPECT_THAT(shadow_versions, ::testing::ElementsAre(2, 3, 4));
  Readiness r = f.ReadinessOf("web-0");
  EXPECT_TRUE(r.ready) << r.detail;
  EXPECT_EQ(r.shadow_version, 4);
  EXPECT_EQ(r.versions_behind, 0);
  // The shadow holds exactly live's document.
  auto replica = f.provider->Get(shadow);
  ASSERT_TRUE(replica.has_value());
  EXPECT_EQ(replica->configuration, *f.ledger->Document("web-0", 4));
}

TEST(ShadowManager, NeverCallsTheProviderOnALiveReplicaExceptToCreateAndPatchIt) {
  TestFleet f;
  f.Apply(FleetYaml("web", 2));
  f.Settle();
  std::string live = LiveReplicaOf(f, "web-0");
  // A broken shadow, a failing health check and new versions: none of it may touch live
  // beyond the live manager's own creation, health checks and version pushes.
  f.provider->SetStatus(ShadowReplicaOf(f, "web-0"), ReplicaPhase::kFailed, false);
  RecordChange(f, "web-0", "x", 1);
  f.provider->ClearCalls();
  ASSERT_TRUE(f.state->Sync().ok());
  f.shadow->ReconcileAll();
  ASSERT_TRUE(f.state->Sync().ok());
  f.shadow->ReconcileAll();
  ASSERT_TRUE(f.shadow->CollectOrphans().ok());
  for (const auto& call : f.provider->calls()) {
    EXPECT_NE(call.replica_id, live) << "shadow manager called " << call.operation << " on live";
  }
}

TEST(ShadowManager, AfterTestedPolicyWaitsForTheVersionToBeMarkedTested) {
  TestFleet f;
  f.Apply(FleetYaml("web", 1, "      shadowing: {apply: afterTested}\n"));
  f.Settle();
  // Version 1 was never marked tested: no shadow may be built from it yet.
  EXPECT_EQ(ShadowReplicaOf(f, "web-0"), "");
  ASSERT_TRUE(f.ledger->MarkTested("web-0", 1, "qa").ok());
  f.Settle();
  EXPECT_TRUE(f.ReadinessOf("web-0").ready);

  RecordChange(f, "web-0", "a", 1);
  f.Settle();
  Readiness before = f.ReadinessOf("web-0");
  EXPECT_EQ(before.shadow_version, 1);
  EXPECT_EQ(before.versions_behind, 1);
  EXPECT_TRUE(before.ready) << "the shadow holds its target (the newest tested version)";

  ASSERT_TRUE(f.ledger->MarkTested("web-0", 2, "qa").ok());
  f.Settle();
  EXPECT_EQ(f.ReadinessOf("web-0").shadow_version, 2);
}

TEST(ShadowManager, ReplacesAShadowWhoseReplicaFailed) {
  TestFleet f;
  f.Apply(FleetYaml("web", 1));
  f.Settle();
  std::string first = ShadowReplicaOf(f, "web-0");
  f.provider->SetStatus(first, ReplicaPhase::kFailed, false);
  f.clock.Advance(absl::Seconds(10));  // Past the health-check interval.
  f.Settle();

  std::string second = ShadowReplicaOf(f, "web-0");
  EXPECT_NE(second, "");
  EXPECT_NE(second, first);
  EXPECT_FALSE(f.provider->Has(first)) << "the failed replica was terminated";
  EXPECT_TRUE(f.ReadinessOf("web-0").ready);
  EXPECT_EQ(f.state->Shadow("web-0")->replacements, 1);
}

TEST(ShadowManager, ReplacesAShadowUnhealthyForLongerThanAllowed) {
  TestFleet f;
  f.Apply(FleetYaml("web", 1, "      shadowing: {replaceUnhealthyAfter: 60s}\n"));
  f.Settle();
  std::string first = ShadowReplicaOf(f, "web-0");
  f.provider->SetStatus(first, ReplicaPhase::kRunning, false);

  // Two failed checks (the threshold) make it unhealthy, not yet replaced.
  for (int i = 0; i < 3; ++i) {
    f.clock.Advance(absl::Seconds(6));
    f.Step();
  }
  Readiness r = f.ReadinessOf("web-0");
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.reason, ReadinessReason::kUnhealthy);
  EXPECT_EQ(ShadowReplicaOf(f, "web-0"), first);

  f.clock.Advance(absl::Seconds(61));
  f.Settle();
  EXPECT_NE(ShadowReplicaOf(f, "web-0"), first);
  EXPECT_TRUE(f.ReadinessOf("web-0").ready);
}

TEST(ShadowManager, RecoversWhenAnUnhealthyShadowPassesItsCheckAgain) {
  TestFleet f;
  f.Apply(FleetYaml("web", 1));
  f.Settle();
  std::string shadow = ShadowReplicaOf(f, "web-0");
  f.provider->SetStatus(shadow, ReplicaPhase::kRunning, false);
  for (int i = 0; i < 3; ++i) {
    f.clock.Advance(absl::Seconds(6));
    f.Step();
  }
  ASSERT_EQ(f.ReadinessOf("web-0").reason, ReadinessReason::kUnhealthy);
  f.provider->SetStatus(shadow, ReplicaPhase::kRunning, true);
  f.clock.Advance(absl::Seconds(6));
  f.Settle();
  EXPECT_TRUE(f.ReadinessOf("web-0").ready);
  EXPECT_EQ(ShadowReplicaOf(f, "web-0"), shadow);
}

TEST(ShadowManager, BacksOffAFailingCreateAndRecoversWhenTheProviderDoes) {
  TestFleet f;
  f.Apply(FleetYaml("web", 1));
  f.provider->FailCreate(absl::OkStatus());
  // Let the live replica be created, then make every shadow create fail.
  ASSERT_TRUE(f.state->Sync().ok());
  f.live->ReconcileAll();
  ASSERT_TRUE(f.state->Sync().ok());
  f.live->ReconcileAll();
  f.provider->FailCreate(absl::UnavailableError("quota exceeded"));
  f.Step();
  f.Step();
  Cached<ShadowRecord> failed = f.state->Shadow("web-0");
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->phase, ShadowPhase::kFailed);
  EXPECT_THAT(failed->last_error, ::testing::HasSubstr("quota exceeded"));
  EXPECT_GT(failed->next_attempt_at, f.clock.Now()) << "a failed create backs off";
  EXPECT_EQ(f.ReadinessOf("web-0").reason, ReadinessReason::kFailed);

  // While backing off, no further create is attempted.
  f.provider->ClearCalls();
  f.Step();
  for (const auto& call : f.provider->calls()) {
    EXPECT_NE(call.operation, "create");
  }
  f.provider->FailCreate(absl::OkStatus());
  f.clock.Advance(absl::Minutes(10));
  f.Settle();
  EXPECT_TRUE(f.ReadinessOf("web-0").ready);
  EXPECT_EQ(f.state->Shadow("web-0")->failures, 0);
}

TEST(ShadowManager, BackoffGrowsWithRepeatedFailures) {
  TestFleet f;
  f.Apply(FleetYaml("web", 1));
  f.Settle();
  f.provider->FailApply(absl::UnavailableError("package mirror down"), Role::kShadow);
  RecordChange(f, "web-0", "a", 1);
  std::vector<absl::Duration> delays;
  for (int i = 0; i < 4; ++i) {
    f.Step();
    Cached<ShadowRecord> s = f.state->Shadow("web-0");
    ASSERT_EQ(s->phase, ShadowPhase::kFailed);
    delays.push_back(s->next_attempt_at - f.clock.Now());
    f.clock.Advance(delays.back() + absl::Milliseconds(1));
  }
  for (size_t i = 1; i < delays.size(); ++i) {
    EXPECT_GT(delays[i], delays[i - 1]) << "attempt " << i;
  }
  // The live instance already runs version 2; only the shadow lags.
  EXPECT_EQ(f.state->Instance("web-0")->live_version, 2);
  EXPECT_EQ(f.ReadinessOf("web-0").versions_behind, 1);
}

TEST(ShadowManager, FinishesAnApplyInterruptedByACrash) {
  TestFleet f;
  f.Apply(FleetYaml("web", 1));
  f.Settle();
  RecordChange(f, "web-0", "a", 1);
  // Deliver version 2 to live, then simulate a crash right after the shadow's intent was
  // written: the record says Applying 2, the provider never received it.
  ASSERT_TRUE(f.state->Sync().ok());
  f.live->ReconcileAll();
  ASSERT_TRUE(f.state->Sync().ok());
  Cached<ShadowRecord> before = f.state->Shadow("web-0");
  ShadowRecord intent = *before;
  intent.phase = ShadowPhase::kApplying;
  intent.target_version = 2;
  StateBatch batch;
  batch.PutShadow(intent, before.revision);
  ASSERT_TRUE(f.state->Commit(batch).ok());

  // A new manager (a restarted daemon) picks it up and re-applies version 2.
  ShadowManagerOptions options;
  options.workers = 1;
  ShadowManager restarted(f.state.get(), f.ledger.get(), f.providers.get(), &f.clock, nullptr,
                          options);
  f.provider->ClearCalls();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(f.state->Sync().ok());
    restarted.ReconcileAll();
  }
  bool reapplied = false;
  for (const auto& call : f.provider->calls()) {
    reapplied = reapplied || (call.operation == "apply" && call.version == 2);
  }
  EXPECT_TRUE(reapplied);
  EXPECT_EQ(f.state->Shadow("web-0")->version, 2);
  EXPECT_EQ(f.state->Shadow("web-0")->phase, ShadowPhase::kReady);
}

TEST(ShadowManager, CleansUpAReplicaReservedButNeverRecordedBeforeACrash) {
  TestFleet f;
  f.Apply(FleetYaml("web", 1));
  f.Settle();
  // A reserved replica id with no provider id: the daemon died between the intent and the
  // provider's answer. The provider may or may not have built it.
  Cached<ShadowRecord> current = f.state->Shadow("web-0");
  f.provider->AddReplica("web-0-s9", "web-0", Role::kShadow);
  ShadowRecord intent = *current;
  intent.replica = Replica{"web-0-s9"};
  intent.phase = ShadowPhase::kBuilding;
  StateBatch batch;
  batch.PutShadow(intent, current.revision);
  ASSERT_TRUE(f.state->Commit(batch).ok());

  f.Settle();
  EXPECT_FALSE(f.provider->Has("web-0-s9"));
  EXPECT_NE(ShadowReplicaOf(f, "web-0"), "web-0-s9");
  EXPECT_TRUE(f.ReadinessOf("web-0").ready);
}

TEST(ShadowManager, CollectsOrphanShadowsButNeverUnknownLiveReplicas) {
  TestFleet f;
  f.Apply(FleetYaml("web", 1));
  f.Settle();
  f.provider->AddReplica("web-0-s77", "web-0", Role::kShadow);
  f.provider->AddReplica("foreign-live", "web-9", Role::kLive);
  ASSERT_TRUE(f.shadow->CollectOrphans().ok());
  EXPECT_FALSE(f.provider->Has("web-0-s77"));
  EXPECT_TRUE(f.provider->Has("foreign-live"));
  EXPECT_TRUE(f.provider->Has(ShadowReplicaOf(f, "web-0")));
}

TEST(ShadowManager, WaitsForAnAsynchronousApplyToBeConfirmed) {
  TestFleet f;
  f.Apply(FleetYaml("web", 1));
  f.Settle();
  f.provider->SetAsyncApply(true);
  RecordChange(f, "web-0", "a", 1);
  f.Step();
  f.Step();
  f.Step();
  std::string shadow = ShadowReplicaOf(f, "web-0");
  int applies = 0;
  for (const auto& call : f.provider->calls()) {
    applies += call.operation == "apply" && call.replica_id == shadow && call.version == 2;
  }
  EXPECT_EQ(applies, 1) << "an unconfirmed apply is not issued again while it may be running";
  EXPECT_EQ(f.ReadinessOf("web-0").reason, ReadinessReason::kApplying);
  f.provider->SetAppliedVersion(shadow, 2);
  f.Settle();
  EXPECT_TRUE(f.ReadinessOf("web-0").ready);
  EXPECT_EQ(f.state->Shadow("web-0")->version, 2);
}

TEST(ShadowManager, RemovesTheShadowWhenItsInstanceLeavesTheSpec) {
  TestFleet f;
  f.Apply(FleetYaml("web", 2));
  f.Settle();
  std::string shadow = ShadowReplicaOf(f, "web-1");
  std::string live = LiveReplicaOf(f, "web-1");
  f.Apply(FleetYaml("web", 1));
  f.Settle();
  EXPECT_FALSE(f.state->Instance("web-1"));
  EXPECT_FALSE(f.state->Shadow("web-1"));
  EXPECT_FALSE(f.provider->Has(shadow));
  EXPECT_FALSE(f.provider->Has(live));
  EXPECT_TRUE(f.ReadinessOf("web-0").ready);
  // Its configuration history is kept.
  EXPECT_TRUE(f.ledger->Document("web-1", 1).ok());
}

}  // namespace
}  // namespace shadowfleet

// Readiness as a pure function of an instance, its shadow, its group, its ledger head, its
// volume copies and the time: each reason a shadow is not ready, how far behind it is, and
// the version its shadowing policy targets.
#include "shadowfleet/shadow/readiness.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace shadowfleet {
namespace {

using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

GroupSpec Group(LiveMode mode = LiveMode::kManaged,
                ShadowApplyPolicy policy = ShadowApplyPolicy::kImmediate) {
  GroupSpec group;
  group.name = "web";
  group.live_mode = mode;
  group.shadowing.apply = policy;
  return group;
}

InstanceRecord Live(int64_t live_version = 5) {
  InstanceRecord instance;
  instance.id = "web-0";
  instance.group = "web";
  instance.live = Replica{"web-0-l1", "p-1"};
  instance.live_phase = LivePhase::kRunning;
  instance.live_version = live_version;
  instance.created_at = kNow - absl::Hours(1);
  return instance;
}

ShadowRecord Shadow(ShadowPhase phase = ShadowPhase::kReady, int64_t version = 5) {
  ShadowRecord shadow;
  shadow.instance_id = "web-0";
  shadow.replica = Replica{"web-0-s2", "p-2"};
  shadow.replica->created_at = kNow - absl::Minutes(30);
  shadow.phase = phase;
  shadow.version = version;
  shadow.target_version = version;
  return shadow;
}

VersionHead Head(int64_t version = 5, int64_t latest_tested = 0) {
  return VersionHead{"web-0", version, 0, latest_tested};
}

VolumeStatus Volume(const std::string& name, absl::Time synced_as_of,
                    const std::string& shadow_replica = "web-0-s2") {
  VolumeStatus v;
  v.instance_id = "web-0";
  v.volume = name;
  v.shadow_replica = shadow_replica;
  v.synced_as_of = synced_as_of;
  return v;
}

VolumeSpec VolumeSpecNamed(const std::string& name, absl::Duration max_lag) {
  VolumeSpec spec;
  spec.name = name;
  spec.path = name;
  spec.max_lag = max_lag;
  return spec;
}

Readiness Compute(const InstanceRecord& instance, const ShadowRecord* shadow,
                  const GroupSpec* group, std::optional<VersionHead> head = Head(),
                  const std::vector<const VolumeStatus*>& volumes = {},
                  absl::Time behind_since = absl::InfinitePast()) {
  return ComputeReadiness(instance, shadow, group, head, volumes, kNow, behind_since);
}

TEST(Readiness, AHealthyShadowAtLivesVersionIsReady) {
  GroupSpec group = Group();
  ShadowRecord shadow = Shadow();
  Readiness r = Compute(Live(), &shadow, &group);
  EXPECT_TRUE(r.ready);
  EXPECT_EQ(r.reason, ReadinessReason::kReady);
  EXPECT_EQ(r.detail, "");
  EXPECT_EQ(r.instance_id, "web-0");
  EXPECT_EQ(r.group, "web");
  EXPECT_EQ(r.live_version, 5);
  EXPECT_EQ(r.shadow_version, 5);
  EXPECT_EQ(r.target_version, 5);
  EXPECT_EQ(r.versions_behind, 0);
  EXPECT_EQ(r.seconds_behind, 0);
  EXPECT_EQ(r.data_lag_seconds, 0);
}

TEST(Readiness, ARemovedInstanceOrOneWithoutAGroupIsBeingRemoved) {
  GroupSpec group = Group();
  ShadowRecord shadow = Shadow();
  InstanceRecord removed = Live();
  removed.removed = true;
  EXPECT_EQ(Compute(removed, &shadow, &group).reason, ReadinessReason::kRemoved);
  Readiness no_group = Compute(Live(), &shadow, nullptr);
  EXPECT_EQ(no_group.reason, ReadinessReason::kRemoved);
  EXPECT_FALSE(no_group.ready);
  EXPECT_EQ(no_group.target_version, 0);
}

TEST(Readiness, WithoutALiveReplicaThereIsNothingToShadow) {
  GroupSpec group = Group();
  InstanceRecord instance = Live();
  instance.live.reset();
  Readiness r = Compute(instance, nullptr, &group);
  EXPECT_EQ(r.reason, ReadinessReason::kNoLive);
  EXPECT_FALSE(r.ready);
}

TEST(Readiness, AMissingShadowIsNoShadowOrFailedWhenCreatingItFailed) {
  GroupSpec group = Group();
  EXPECT_EQ(Compute(Live(), nullptr, &group).reason, ReadinessReason::kNoShadow);
  ShadowRecord pending;
  pending.instance_id = "web-0";
  EXPECT_EQ(Compute(Live(), &pending, &group).reason, ReadinessReason::kNoShadow);
  EXPECT_EQ(Compute(Live(), &pending, &group).detail, "not created yet");

  ShadowRecord failed;
  failed.instance_id = "web-0";
  failed.phase = ShadowPhase::kFailed;
  failed.last_error = "create: quota exceeded";
  Readiness r = Compute(Live(), &failed, &group);
  EXPECT_EQ(r.reason, ReadinessReason::kFailed);
  EXPECT_THAT(r.detail, HasSubstr("quota exceeded"));
}

TEST(Readiness, EachShadowPhaseHasItsReason) {
  GroupSpec group = Group();
  struct Case {
    ShadowPhase phase;
    ReadinessReason reason;
  };
  for (Case c : {Case{ShadowPhase::kPending, ReadinessReason::kBuilding},
                 Case{ShadowPhase::kBuilding, ReadinessReason::kBuilding},
                 Case{ShadowPhase::kApplying, ReadinessReason::kApplying},
                 Case{ShadowPhase::kUnhealthy, ReadinessReason::kUnhealthy},
                 Case{ShadowPhase::kFailed, ReadinessReason::kFailed}}) {
    ShadowRecord shadow = Shadow(c.phase);
    shadow.last_error = "the last error";
    Readiness r = Compute(Live(), &shadow, &group);
    EXPECT_EQ(r.reason, c.reason) << ShadowPhaseName(c.phase);
    EXPECT_FALSE(r.ready);
    if (c.phase == ShadowPhase::kUnhealthy || c.phase == ShadowPhase::kFailed) {
      EXPECT_THAT(r.detail, HasSubstr("the last error"));
    }
  }
}

TEST(Readiness, AHealthyShadowBelowItsTargetIsBehindAndSaysHowFar) {
  GroupSpec group = Group();
  ShadowRecord shadow = Shadow(ShadowPhase::kReady, 3);
  Readiness r = Compute(Live(5), &shadow, &group, Head(5), {}, kNow - absl::Seconds(90));
  EXPECT_EQ(r.reason, ReadinessReason::kBehind);
  EXPECT_EQ(r.detail, "at version 3, target 5");
  EXPECT_EQ(r.versions_behind, 2);
  EXPECT_DOUBLE_EQ(r.seconds_behind, 90);

  Readiness unknown_time = Compute(Live(5), &shadow, &group, Head(5));
  EXPECT_EQ(unknown_time.seconds_behind, 0) << "no time known: 0";
  ShadowRecord current = Shadow(ShadowPhase::kReady, 5);
  EXPECT_EQ(Compute(Live(5), &current, &group, Head(5), {}, kNow - absl::Hours(1)).seconds_behind,
            0)
      << "not behind: 0 whatever the time";
}

TEST(Readiness, ADataVolumeCopyMustBeRecentAndBelongToTheCurrentShadow) {
  GroupSpec group = Group();
  group.volumes = {VolumeSpecNamed("data", absl::Seconds(60))};
  ShadowRecord shadow = Shadow();

  VolumeStatus fresh = Volume("data", kNow - absl::Seconds(20));
  Readiness ready = Compute(Live(), &shadow, &group, Head(), {&fresh});
  EXPECT_TRUE(ready.ready) << ready.detail;
  EXPECT_DOUBLE_EQ(ready.data_lag_seconds, 20);

  VolumeStatus at_limit = Volume("data", kNow - absl::Seconds(60));
  EXPECT_TRUE(Compute(Live(), &shadow, &group, Head(), {&at_limit}).ready);

  VolumeStatus old = Volume("data", kNow - absl::Seconds(61));
  old.last_error = "rsync exited with 23";
  Readiness stale = Compute(Live(), &shadow, &group, Head(), {&old});
  EXPECT_EQ(stale.reason, ReadinessReason::kDataStale);
  EXPECT_DOUBLE_EQ(stale.data_lag_seconds, 61);
  EXPECT_THAT(stale.detail, HasSubstr("volume data"));
  EXPECT_THAT(stale.detail, HasSubstr("rsync exited with 23"));

  VolumeStatus previous_shadow = Volume("data", kNow - absl::Seconds(1), "web-0-s1");
  Readiness other = Compute(Live(), &shadow, &group, Head(), {&previous_shadow});
  EXPECT_EQ(other.reason, ReadinessReason::kDataStale) << "a copy made for the old shadow";

  Readiness missing = Compute(Live(), &shadow, &group, Head(), {});
  EXPECT_EQ(missing.reason, ReadinessReason::kDataStale);
  EXPECT_THAT(missing.detail, HasSubstr("not copied yet"));

  VolumeStatus never = Volume("data", absl::InfinitePast());
  Readiness never_copied = Compute(Live(), &shadow, &group, Head(), {&never});
  EXPECT_EQ(never_copied.reason, ReadinessReason::kDataStale);
  EXPECT_DOUBLE_EQ(never_copied.data_lag_seconds, 30 * 60)
      << "a copy never made is as old as the shadow replica";
}

TEST(Readiness, DataLagIsThatOfTheWorstVolume) {
  GroupSpec group = Group();
  group.volumes = {VolumeSpecNamed("a", absl::Minutes(5)), VolumeSpecNamed("b", absl::Minutes(5))};
  ShadowRecord shadow = Shadow();
  VolumeStatus a = Volume("a", kNow - absl::Seconds(10));
  VolumeStatus b = Volume("b", kNow - absl::Seconds(100));
  Readiness r = Compute(Live(), &shadow, &group, Head(), {&a, &b});
  EXPECT_TRUE(r.ready);
  EXPECT_DOUBLE_EQ(r.data_lag_seconds, 100);
}

TEST(Readiness, BeingBehindIsReportedBeforeStaleData) {
  GroupSpec group = Group();
  group.volumes = {VolumeSpecNamed("data", absl::Seconds(60))};
  ShadowRecord shadow = Shadow(ShadowPhase::kReady, 4);
  EXPECT_EQ(Compute(Live(5), &shadow, &group, Head(5), {}).reason, ReadinessReason::kBehind);
}

TEST(Readiness, AdoptedLiveRunsEveryRecordedVersion) {
  GroupSpec group = Group(LiveMode::kAdopted);
  InstanceRecord instance = Live(2);  // The record's live_version lags; the head counts.
  ShadowRecord shadow = Shadow(ShadowPhase::kReady, 5);
  Readiness r = Compute(instance, &shadow, &group, Head(7));
  EXPECT_EQ(r.live_version, 7);
  EXPECT_EQ(r.target_version, 7);
  EXPECT_EQ(r.versions_behind, 2);
  EXPECT_EQ(r.reason, ReadinessReason::kBehind);
}

TEST(Readiness, AfterTestedShadowIsReadyAtTheNewestTestedVersion) {
  GroupSpec group = Group(LiveMode::kManaged, ShadowApplyPolicy::kAfterTested);
  ShadowRecord shadow = Shadow(ShadowPhase::kReady, 3);
  Readiness r = Compute(Live(5), &shadow, &group, Head(5, 3));
  EXPECT_TRUE(r.ready) << r.detail;
  EXPECT_EQ(r.target_version, 3);
  EXPECT_EQ(r.versions_behind, 2) << "still two versions behind live";
}

TEST(ShadowTargetVersion, FollowsThePolicyAndTheLiveMode) {
  InstanceRecord instance = Live(4);
  VersionHead head = Head(6, 5);
  EXPECT_EQ(
      ShadowTargetVersion(Group(LiveMode::kManaged, ShadowApplyPolicy::kImmediate), instance, head),
      4)
      << "managed: what live runs";
  EXPECT_EQ(
      ShadowTargetVersion(Group(LiveMode::kAdopted, ShadowApplyPolicy::kImmediate), instance, head),
      6)
      << "adopted: every recorded version";
  EXPECT_EQ(ShadowTargetVersion(Group(LiveMode::kManaged, ShadowApplyPolicy::kAfterTested),
                                instance, head),
            4)
      << "tested, but not beyond live";
  EXPECT_EQ(ShadowTargetVersion(Group(LiveMode::kAdopted, ShadowApplyPolicy::kAfterTested),
                                instance, head),
            5);
  EXPECT_EQ(ShadowTargetVersion(Group(LiveMode::kAdopted, ShadowApplyPolicy::kAfterTested),
                                instance, Head(6, 0)),
            0)
      << "nothing tested yet";
}

TEST(Readiness, NamesEveryReasonAndSerialisesEveryField) {
  EXPECT_STREQ(ReadinessReasonName(ReadinessReason::kReady), "Ready");
  EXPECT_STREQ(ReadinessReasonName(ReadinessReason::kNoLive), "NoLive");
  EXPECT_STREQ(ReadinessReasonName(ReadinessReason::kNoShadow), "NoShadow");
  EXPECT_STREQ(ReadinessReasonName(ReadinessReason::kBuilding), "Building");
  EXPECT_STREQ(ReadinessReasonName(ReadinessReason::kApplying), "Applying");
  EXPECT_STREQ(ReadinessReasonName(ReadinessReason::kBehind), "Behind");
  EXPECT_STREQ(ReadinessReasonName(ReadinessReason::kUnhealthy), "Unhealthy");
  EXPECT_STREQ(ReadinessReasonName(ReadinessReason::kFailed), "Failed");
  EXPECT_STREQ(ReadinessReasonName(ReadinessReason::kDataStale), "DataStale");
  EXPECT_STREQ(ReadinessReasonName(ReadinessReason::kRemoved), "Removed");

  GroupSpec group = Group();
  ShadowRecord shadow = Shadow(ShadowPhase::kReady, 3);
  nlohmann::json j =
      Compute(Live(5), &shadow, &group, Head(5), {}, kNow - absl::Seconds(2)).ToJson();
  EXPECT_EQ(j, nlohmann::json::parse(R"({"instance": "web-0", "group": "web", "ready": false,
      "reason": "Behind", "detail": "at version 3, target 5", "liveVersion": 5,
      "shadowVersion": 3, "targetVersion": 5, "versionsBehind": 2, "secondsBehind": 2.0,
      "dataLagSeconds": 0.0})"));
}

}  // namespace
}  // namespace shadowfleet

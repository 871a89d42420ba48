// Stored records: every field survives a JSON round trip, "never" times are stored as 0, and
// malformed stored JSON is DATA_LOSS, never an exception or a crash.
#include "shadowfleet/fleet/records.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace shadowfleet {
namespace {

using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixMillis(1'700'000'000'123);

Replica SampleReplica(const std::string& id) {
  Replica r;
  r.id = id;
  r.provider_id = "i-0abc";
  r.endpoint = "10.0.0.7:8080";
  r.provider_state = {{"pid", 4242}, {"dir", "/srv/web-0"}, {"nested", {{"a", {1, 2}}}}};
  r.created_at = kT0;
  return r;
}

InstanceRecord SampleInstance() {
  InstanceRecord r;
  r.id = "web-0";
  r.fleet = "shop";
  r.group = "web";
  r.index = 0;
  r.live = SampleReplica("web-0-l3");
  r.live_phase = LivePhase::kUnhealthy;
  r.live_version = 17;
  r.live_error = "health check timed out";
  r.live_health_failures = 2;
  r.next_replica_number = 9;
  r.spec_generation = 4;
  r.created_at = kT0;
  r.last_refreshed = kT0 + absl::Hours(1);
  r.risk_score = 0.625;
  r.removed = true;
  return r;
}

ShadowRecord SampleShadow() {
  ShadowRecord r;
  r.instance_id = "web-0";
  r.replica = SampleReplica("web-0-s8");
  r.phase = ShadowPhase::kApplying;
  r.version = 16;
  r.target_version = 17;
  r.last_error = "apply: unavailable";
  r.failures = 3;
  r.next_attempt_at = kT0 + absl::Seconds(40);
  r.health_failures = 1;
  r.unhealthy_since = kT0 + absl::Seconds(10);
  r.phase_since = kT0 + absl::Seconds(20);
  r.last_health_check = kT0 + absl::Seconds(30);
  r.replacements = 5;
  return r;
}

template <typename T>
T RoundTrip(const T& record) {
  // Through text, as the store keeps it.
  absl::StatusOr<T> back = T::FromJson(nlohmann::json::parse(record.ToJson().dump()));
  EXPECT_TRUE(back.ok()) << back.status();
  return back.value_or(T{});
}

void ExpectSameReplica(const Replica& a, const Replica& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.provider_id, b.provider_id);
  EXPECT_EQ(a.endpoint, b.endpoint);
  EXPECT_EQ(a.provider_state, b.provider_state);
  EXPECT_EQ(a.created_at, b.created_at);
}

TEST(Records, ReplicaRoundTripsEveryField) {
  Replica r = SampleReplica("web-0-l1");
  ExpectSameReplica(RoundTrip(r), r);
}

TEST(Records, InstanceRecordRoundTripsEveryField) {
  InstanceRecord r = SampleInstance();
  InstanceRecord back = RoundTrip(r);
  EXPECT_EQ(back.id, "web-0");
  EXPECT_EQ(back.fleet, "shop");
  EXPECT_EQ(back.group, "web");
  EXPECT_EQ(back.index, 0);
  ASSERT_TRUE(back.live.has_value());
  ExpectSameReplica(*back.live, *r.live);
  EXPECT_EQ(back.live_phase, LivePhase::kUnhealthy);
  EXPECT_EQ(back.live_version, 17);
  EXPECT_EQ(back.live_error, "health check timed out");
  EXPECT_EQ(back.live_health_failures, 2);
  EXPECT_EQ(back.next_replica_number, 9);
  EXPECT_EQ(back.spec_generation, 4);
  EXPECT_EQ(back.created_at, kT0);
  EXPECT_EQ(back.last_refreshed, kT0 + absl::Hours(1));
  ASSERT_TRUE(back.risk_score.has_value());
  EXPECT_DOUBLE_EQ(*back.risk_score, 0.625);
  EXPECT_TRUE(back.removed);
}

TEST(Records, InstanceRecordWithoutOptionalPartsRoundTrips) {
  InstanceRecord r;
  r.id = "web-1";
  r.fleet = "shop";
  r.group = "web";
  r.index = 1;
  InstanceRecord back = RoundTrip(r);
  EXPECT_FALSE(back.live.has_value());
  EXPECT_FALSE(back.risk_score.has_value());
  EXPECT_EQ(back.live_phase, LivePhase::kPending);
  EXPECT_EQ(back.created_at, absl::InfinitePast());
  EXPECT_EQ(back.last_refreshed, absl::InfinitePast());
  EXPECT_FALSE(back.removed);
  EXPECT_TRUE(r.ToJson()["live"].is_null());
  EXPECT_EQ(r.ToJson()["createdAt"], 0) << "never is stored as 0";
}

TEST(Records, EveryLivePhaseRoundTripsByName) {
  for (LivePhase phase : {LivePhase::kPending, LivePhase::kCreating, LivePhase::kRunning,
                          LivePhase::kUnhealthy, LivePhase::kLost}) {
    InstanceRecord r = SampleInstance();
    r.live_phase = phase;
    EXPECT_EQ(RoundTrip(r).live_phase, phase) << LivePhaseName(phase);
    EXPECT_EQ(r.ToJson()["livePhase"], LivePhaseName(phase));
  }
  EXPECT_STREQ(LivePhaseName(LivePhase::kLost), "Lost");
}

TEST(Records, ShadowRecordRoundTripsEveryField) {
  ShadowRecord r = SampleShadow();
  ShadowRecord back = RoundTrip(r);
  EXPECT_EQ(back.instance_id, "web-0");
  ASSERT_TRUE(back.replica.has_value());
  ExpectSameReplica(*back.replica, *r.replica);
  EXPECT_EQ(back.phase, ShadowPhase::kApplying);
  EXPECT_EQ(back.version, 16);
  EXPECT_EQ(back.target_version, 17);
  EXPECT_EQ(back.last_error, "apply: unavailable");
  EXPECT_EQ(back.failures, 3);
  EXPECT_EQ(back.next_attempt_at, r.next_attempt_at);
  EXPECT_EQ(back.health_failures, 1);
  EXPECT_EQ(back.unhealthy_since, r.unhealthy_since);
  EXPECT_EQ(back.phase_since, r.phase_since);
  EXPECT_EQ(back.last_health_check, r.last_health_check);
  EXPECT_EQ(back.replacements, 5);

  ShadowRecord empty;
  empty.instance_id = "web-1";
  ShadowRecord empty_back = RoundTrip(empty);
  EXPECT_FALSE(empty_back.replica.has_value());
  EXPECT_EQ(empty_back.phase, ShadowPhase::kPending);
  EXPECT_EQ(empty_back.next_attempt_at, absl::InfinitePast());
}

TEST(Records, EveryShadowPhaseRoundTripsByName) {
  for (ShadowPhase phase : {ShadowPhase::kPending, ShadowPhase::kBuilding, ShadowPhase::kApplying,
                            ShadowPhase::kReady, ShadowPhase::kUnhealthy, ShadowPhase::kFailed}) {
    ShadowRecord r = SampleShadow();
    r.phase = phase;
    EXPECT_EQ(RoundTrip(r).phase, phase) << ShadowPhaseName(phase);
  }
  EXPECT_STREQ(ShadowPhaseName(ShadowPhase::kReady), "Ready");
}

TEST(Records, VolumeStatusRoundTripsEveryField) {
  VolumeStatus v;
  v.instance_id = "db-0";
  v.volume = "pgdata";
  v.shadow_replica = "db-0-s2";
  v.synced_as_of = kT0;
  v.last_attempt = kT0 + absl::Seconds(3);
  v.last_error = "rsync exited with 23";
  v.files_copied = 1234;
  v.bytes_copied = int64_t{5} << 40;
  VolumeStatus back = RoundTrip(v);
  EXPECT_EQ(back.instance_id, "db-0");
  EXPECT_EQ(back.volume, "pgdata");
  EXPECT_EQ(back.shadow_replica, "db-0-s2");
  EXPECT_EQ(back.synced_as_of, kT0);
  EXPECT_EQ(back.last_attempt, kT0 + absl::Seconds(3));
  EXPECT_EQ(back.last_error, "rsync exited with 23");
  EXPECT_EQ(back.files_copied, 1234);
  EXPECT_EQ(back.bytes_copied, int64_t{5} << 40);
  EXPECT_EQ(VolumeKey("db-0", "pgdata"), "db-0/pgdata");
}

TEST(Records, ReplicaIdsCountUpPerInstanceAndNameTheirRole) {
  InstanceRecord r;
  r.id = "web-3";
  EXPECT_EQ(r.NextReplicaId(Role::kLive), "web-3-l1");
  EXPECT_EQ(r.NextReplicaId(Role::kShadow), "web-3-s2");
  EXPECT_EQ(r.NextReplicaId(Role::kShadow), "web-3-s3");
  EXPECT_EQ(r.next_replica_number, 4);
  EXPECT_STREQ(RoleName(Role::kLive), "live");
  EXPECT_STREQ(RoleName(Role::kShadow), "shadow");
}

TEST(Records, TimesAreStoredAsMillisecondsAndShownAsRfc3339) {
  EXPECT_EQ(TimeToJson(absl::InfinitePast()), 0);
  EXPECT_EQ(TimeFromJson(0), absl::InfinitePast());
  EXPECT_EQ(TimeToJson(kT0), 1'700'000'000'123);
  EXPECT_EQ(TimeFromJson(1'700'000'000'123), kT0);
  EXPECT_TRUE(TimeToDisplay(absl::InfinitePast()).is_null());
  EXPECT_EQ(TimeToDisplay(kT0), "2023-11-14T22:13:20.123Z");
}

// Every way a stored record can be malformed, for each record type.
template <typename T>
void ExpectDataLoss(const std::string& text) {
  absl::StatusOr<T> decoded = T::FromJson(nlohmann::json::parse(text));
  ASSERT_FALSE(decoded.ok()) << "accepted " << text;
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss) << text;
}

TEST(Records, MalformedInstanceJsonIsDataLoss) {
  nlohmann::json good = SampleInstance().ToJson();
  for (const char* field : {"id", "fleet", "group", "index", "livePhase", "liveVersion",
                            "nextReplicaNumber", "createdAt", "lastRefreshed"}) {
    nlohmann::json missing = good;
    missing.erase(field);
    ExpectDataLoss<InstanceRecord>(missing.dump());
    nlohmann::json wrong = good;
    wrong[field] = nlohmann::json::array({"wrong"});
    ExpectDataLoss<InstanceRecord>(wrong.dump());
  }
  nlohmann::json phase = good;
  phase["livePhase"] = "Dancing";
  ExpectDataLoss<InstanceRecord>(phase.dump());
  nlohmann::json risk = good;
  risk["riskScore"] = "high";
  ExpectDataLoss<InstanceRecord>(risk.dump());
  nlohmann::json error = good;
  error["liveError"] = 42;
  ExpectDataLoss<InstanceRecord>(error.dump());
  nlohmann::json live = good;
  live["live"] = {{"id", 7}};
  ExpectDataLoss<InstanceRecord>(live.dump());
  for (const char* not_object : {"[]", "\"text\"", "null", "12"}) {
    ExpectDataLoss<InstanceRecord>(not_object);
  }
}

TEST(Records, MalformedShadowJsonIsDataLoss) {
  nlohmann::json good = SampleShadow().ToJson();
  for (const char* field : {"instance", "phase", "version", "targetVersion"}) {
    nlohmann::json missing = good;
    missing.erase(field);
    ExpectDataLoss<ShadowRecord>(missing.dump());
  }
  nlohmann::json phase = good;
  phase["phase"] = 3;
  ExpectDataLoss<ShadowRecord>(phase.dump());
  nlohmann::json unknown = good;
  unknown["phase"] = "Sleeping";
  ExpectDataLoss<ShadowRecord>(unknown.dump());
  nlohmann::json replica = good;
  replica["replica"] = {{"id", "x"}};
  ExpectDataLoss<ShadowRecord>(replica.dump());
  nlohmann::json failures = good;
  failures["failures"] = "many";
  ExpectDataLoss<ShadowRecord>(failures.dump());
  ExpectDataLoss<ShadowRecord>("[1, 2]");

  absl::StatusOr<ShadowRecord> decoded = ShadowRecord::FromJson(unknown);
  EXPECT_THAT(decoded.status().message(), HasSubstr("Sleeping"));
}

TEST(Records, MalformedReplicaAndVolumeJsonIsDataLoss) {
  nlohmann::json replica = SampleReplica("r").ToJson();
  replica["createdAt"] = "yesterday";
  ExpectDataLoss<Replica>(replica.dump());
  ExpectDataLoss<Replica>(R"({"id": "r"})");
  ExpectDataLoss<VolumeStatus>(R"({"instance": "db-0"})");
  ExpectDataLoss<VolumeStatus>(
      R"({"instance": "db-0", "volume": "v", "syncedAsOf": "now", "lastAttempt": 0})");
  ExpectDataLoss<VolumeStatus>("\"volume\"");
}

}  // namespace
}  // namespace shadowfleet

// The in-memory view of the stored fleet state: it follows commits by any writer through
// Sync(), reflects its own commits at once, hands out immutable snapshots, detects conflicting
// writes, skips unreadable records, and still knows the spec an instance was built from after
// its fleet is gone.
#include "shadowfleet/fleet/fleet_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <type_traits>

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/clock.h"
#include "shadowfleet/fleet/spec_applier.h"
#include "shadowfleet/ledger/ledger.h"
#include "shadowfleet/store/sqlite_store.h"

namespace shadowfleet {
namespace {

using ::testing::ElementsAre;

std::string FleetYaml(const std::string& fleet, const std::string& group, int replicas) {
  return absl::StrCat("apiVersion: shadowfleet.dev/v1alpha1\nkind: Fleet\nmetadata:\n  name: ",
                      fleet, "\nspec:\n  groups:\n    - name: ", group,
                      "\n      replicas: ", replicas, "\n      provider: {name: sim}\n");
}

InstanceRecord Instance(const std::string& id, const std::string& fleet = "shop",
                        const std::string& group = "web") {
  InstanceRecord r;
  r.id = id;
  r.fleet = fleet;
  r.group = group;
  return r;
}

class FleetStateTest : public ::testing::Test {
 protected:
  FleetStateTest() {
    SqliteStoreOptions options;
    options.path = ":memory:";
    options.synchronous_full = false;
    store_ = std::move(SqliteStore::Open(options).value());
    a_ = std::make_unique<FleetState>(store_.get());
    b_ = std::make_unique<FleetState>(store_.get());
  }

  int64_t CommitOrDie(FleetState& state, StateBatch& batch) {
    absl::StatusOr<int64_t> revision = state.Commit(batch);
    EXPECT_TRUE(revision.ok()) << revision.status();
    return revision.value_or(-1);
  }

  void ApplyOrDie(FleetState& state, const std::string& yaml) {
    ASSERT_TRUE(state.Sync().ok());
    absl::StatusOr<ApplyResult> result = ApplyFleetSpecs(state, clock_, yaml, "t.yaml", "test");
    ASSERT_TRUE(result.ok()) << result.status();
  }

  FakeClock clock_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<FleetState> a_, b_;  // Two daemons' views of one store.
};

TEST_F(FleetStateTest, CommitUpdatesTheCommittingViewAtOnce) {
  StateBatch batch;
  batch.PutInstance(Instance("web-0"), kMustNotExist);
  ShadowRecord shadow;
  shadow.instance_id = "web-0";
  shadow.version = 3;
  batch.PutShadow(shadow, kMustNotExist);
  VolumeStatus volume;
  volume.instance_id = "web-0";
  volume.volume = "data";
  volume.files_copied = 7;
  batch.PutVolume(volume, kMustNotExist);
  int64_t revision = CommitOrDie(*a_, batch);

  Cached<InstanceRecord> instance = a_->Instance("web-0");
  ASSERT_TRUE(instance);
  EXPECT_EQ(instance.revision, revision);
  EXPECT_EQ(instance->fleet, "shop");
  EXPECT_EQ(a_->Shadow("web-0")->version, 3);
  EXPECT_EQ(a_->Volume("web-0", "data")->files_copied, 7);
  EXPECT_FALSE(a_->Volume("web-0", "logs"));
  EXPECT_EQ(a_->instance_count(), 1u);
}

TEST_F(FleetStateTest, SyncPicksUpAnotherWritersCommitsAndDeletions) {
  StateBatch create;
  create.PutInstance(Instance("web-1"), kMustNotExist);
  create.PutInstance(Instance("web-0"), kMustNotExist);
  int64_t created = CommitOrDie(*a_, create);
  EXPECT_FALSE(b_->Instance("web-0")) << "b has not synced yet";

  ASSERT_TRUE(b_->Sync().ok());
  EXPECT_THAT(b_->InstanceIds(), ElementsAre("web-0", "web-1"));
  EXPECT_EQ(b_->Instance("web-0").revision, created);

  StateBatch remove;
  remove.DeleteInstance("web-1", created);
  CommitOrDie(*a_, remove);
  EXPECT_THAT(a_->InstanceIds(), ElementsAre("web-0"));
  ASSERT_TRUE(b_->Sync().ok());
  EXPECT_THAT(b_->InstanceIds(), ElementsAre("web-0"));
  ASSERT_TRUE(b_->Sync().ok()) << "syncing with nothing new is fine";
  EXPECT_EQ(b_->instance_count(), 1u);
}

TEST_F(FleetStateTest, SyncFollowsLedgerHeads) {
  Ledger ledger(store_.get(), &clock_);
  ASSERT_TRUE(ledger.Record("web-0", {{"a", 1}}, {"alice", "first"}).ok());
  ASSERT_TRUE(ledger.Record("web-0", {{"a", 2}}, {"alice", "second"}).ok());
  EXPECT_FALSE(a_->Head("web-0").has_value());
  ASSERT_TRUE(a_->Sync().ok());
  ASSERT_TRUE(a_->Head("web-0").has_value());
  EXPECT_EQ(a_->Head("web-0")->version, 2);
  ASSERT_TRUE(ledger.MarkTested("web-0", 1, "qa").ok());
  ASSERT_TRUE(a_->Sync().ok());
  EXPECT_EQ(a_->Head("web-0")->latest_tested, 1);
}

TEST_F(FleetStateTest, AWriteBasedOnAStaleReadIsAborted) {
  StateBatch create;
  create.PutInstance(Instance("web-0"), kMustNotExist);
  CommitOrDie(*a_, create);
  ASSERT_TRUE(b_->Sync().ok());

  Cached<InstanceRecord> seen_by_a = a_->Instance("web-0");
  Cached<InstanceRecord> seen_by_b = b_->Instance("web-0");
  InstanceRecord from_a = *seen_by_a;
  from_a.live_version = 5;
  StateBatch a_write;
  a_write.PutInstance(from_a, seen_by_a.revision);
  CommitOrDie(*a_, a_write);

  InstanceRecord from_b = *seen_by_b;
  from_b.live_version = 9;
  StateBatch b_write;
  b_write.PutInstance(from_b, seen_by_b.revision);
  b_write.AddEvent({0, 0, "test.event", "web-0", "b", "should not be written", "{}"});
  absl::StatusOr<int64_t> rejected = b_->Commit(b_write);
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(b_->Instance("web-0")->live_version, 0) << "a failed commit leaves the view alone";
  EXPECT_TRUE(store_->ListEvents({}).value().empty());

  ASSERT_TRUE(b_->Sync().ok());
  EXPECT_EQ(b_->Instance("web-0")->live_version, 5);
}

TEST_F(FleetStateTest, CachedSnapshotsAreImmutableAndOutliveUpdates) {
  static_assert(std::is_const_v<std::remove_reference_t<decltype(*Cached<InstanceRecord>{})>>,
                "snapshots are read-only");
  StateBatch create;
  create.PutInstance(Instance("web-0"), kMustNotExist);
  CommitOrDie(*a_, create);
  Cached<InstanceRecord> before = a_->Instance("web-0");

  InstanceRecord next = *before;
  next.live_version = 42;
  StateBatch update;
  update.PutInstance(next, before.revision);
  CommitOrDie(*a_, update);
  StateBatch remove;
  remove.DeleteInstance("web-0", a_->Instance("web-0").revision);
  CommitOrDie(*a_, remove);

  EXPECT_EQ(before->live_version, 0) << "the old snapshot is unchanged";
  EXPECT_EQ(before->id, "web-0") << "and still alive after the record was deleted";
  EXPECT_FALSE(a_->Instance("web-0"));
}

TEST_F(FleetStateTest, SkipsUnreadableStoredRecords) {
  WriteBatch raw;
  raw.Put(kInstanceObject, "garbage", "{not json", kAnyRevision);
  raw.Put(kInstanceObject, "incomplete", R"({"id": "incomplete"})", kAnyRevision);
  raw.Put(kShadowObject, "web-0", R"({"phase": 12})", kAnyRevision);
  raw.Put(kFleetObject, "broken", R"({"name": "broken", "source": "not: a fleet",
      "generation": 1, "appliedAt": 0})",
          kAnyRevision);
  raw.Put(kInstanceObject, "web-0", Instance("web-0").ToJson().dump(), kAnyRevision);
  ASSERT_TRUE(store_->Commit(raw).ok());

  ASSERT_TRUE(a_->Sync().ok());
  EXPECT_THAT(a_->InstanceIds(), ElementsAre("web-0"));
  EXPECT_FALSE(a_->Shadow("web-0"));
  EXPECT_TRUE(a_->Fleets().empty());
}

TEST_F(FleetStateTest, FindsGroupsOfEveryStoredFleet) {
  ApplyOrDie(*a_, FleetYaml("shop", "web", 2) + "---\n" + FleetYaml("blog", "api", 1));
  std::vector<Cached<StoredFleet>> fleets = a_->Fleets();
  ASSERT_EQ(fleets.size(), 2u);
  EXPECT_EQ(fleets[0]->name, "blog");
  EXPECT_EQ(fleets[1]->name, "shop");
  EXPECT_EQ(a_->Fleet("shop")->generation, 1);
  EXPECT_FALSE(a_->Fleet("nope"));
  ASSERT_NE(a_->Group("api"), nullptr);
  EXPECT_EQ(a_->Group("api")->replicas, 1);
  EXPECT_EQ(a_->Group("web")->replicas, 2);
  EXPECT_EQ(a_->Group("db"), nullptr);

  // Another view parses the same specs from the store.
  ASSERT_TRUE(b_->Sync().ok());
  ASSERT_NE(b_->Group("web"), nullptr);
  EXPECT_EQ(b_->Group("web")->replicas, 2);
}

TEST_F(FleetStateTest, AGroupSnapshotOutlivesAReapply) {
  ApplyOrDie(*a_, FleetYaml("shop", "web", 2));
  std::shared_ptr<const GroupSpec> group = a_->Group("web");
  ApplyOrDie(*a_, FleetYaml("shop", "web", 5));
  EXPECT_EQ(group->replicas, 2);
  EXPECT_EQ(a_->Group("web")->replicas, 5);
}

TEST_F(FleetStateTest, GroupOfFallsBackToTheFleetGenerationAfterTheFleetIsDeleted) {
  ApplyOrDie(*a_, FleetYaml("shop", "web", 3));
  InstanceRecord instance = Instance("web-2");
  instance.spec_generation = 1;
  ASSERT_NE(a_->GroupOf(instance), nullptr);

  StateBatch remove;
  remove.DeleteFleet("shop", a_->Fleet("shop").revision);
  CommitOrDie(*a_, remove);
  EXPECT_EQ(a_->Group("web"), nullptr);
  std::shared_ptr<const GroupSpec> kept = a_->GroupOf(instance);
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(kept->name, "web");
  EXPECT_EQ(kept->replicas, 3);

  // A daemon that never saw the fleet reads the generation copy from the store.
  ASSERT_TRUE(b_->Sync().ok());
  EXPECT_EQ(b_->Group("web"), nullptr);
  ASSERT_NE(b_->GroupOf(instance), nullptr);
  EXPECT_EQ(b_->GroupOf(instance)->replicas, 3);

  InstanceRecord never_built = Instance("web-9");
  EXPECT_EQ(a_->GroupOf(never_built), nullptr) << "no generation to fall back to";
}

TEST_F(FleetStateTest, GroupOfFallsBackWhenTheGroupLeftItsFleet) {
  ApplyOrDie(*a_, FleetYaml("shop", "web", 1));
  ApplyOrDie(*a_, FleetYaml("shop", "cache", 1));
  InstanceRecord instance = Instance("web-0");
  instance.spec_generation = 1;
  EXPECT_EQ(a_->Group("web"), nullptr);
  ASSERT_NE(a_->GroupOf(instance), nullptr);
  EXPECT_EQ(a_->GroupOf(instance)->name, "web");
}

TEST_F(FleetStateTest, FleetAtGenerationReturnsEachAppliedGeneration) {
  ApplyOrDie(*a_, FleetYaml("shop", "web", 1));
  ApplyOrDie(*a_, FleetYaml("shop", "web", 4));
  absl::StatusOr<std::shared_ptr<const StoredFleet>> first = b_->FleetAtGeneration("shop", 1);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_NE(*first, nullptr);
  EXPECT_EQ((*first)->generation, 1);
  EXPECT_EQ((*first)->spec.groups[0].replicas, 1);
  EXPECT_EQ(b_->FleetAtGeneration("shop", 2).value()->spec.groups[0].replicas, 4);
  absl::StatusOr<std::shared_ptr<const StoredFleet>> missing = b_->FleetAtGeneration("shop", 3);
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(*missing, nullptr);
  EXPECT_EQ(FleetGenerationKey("shop", 2), "shop/2");
}

TEST(StoredFleet, RoundTripsThroughJsonAndReparsesItsSource) {
  StoredFleet fleet;
  fleet.name = "shop";
  fleet.source = FleetYaml("shop", "web", 2);
  fleet.generation = 3;
  fleet.applied_at = absl::FromUnixMillis(1'700'000'000'000);
  fleet.applied_by = "alice";
  absl::StatusOr<StoredFleet> back =
      StoredFleet::FromJson(nlohmann::json::parse(fleet.ToJson().dump()));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->name, "shop");
  EXPECT_EQ(back->source, fleet.source);
  EXPECT_EQ(back->generation, 3);
  EXPECT_EQ(back->applied_at, fleet.applied_at);
  EXPECT_EQ(back->applied_by, "alice");
  ASSERT_EQ(back->spec.groups.size(), 1u);
  EXPECT_EQ(back->spec.groups[0].replicas, 2);
  EXPECT_FALSE(fleet.ToJson().contains("spec")) << "only the source is stored";
}

TEST(StoredFleet, MalformedFieldsAreDataLoss) {
  for (const char* text :
       {R"({"name": "shop"})", R"({"name": 1, "source": "", "generation": 1, "appliedAt": 0})",
        R"([1])"}) {
    absl::StatusOr<StoredFleet> decoded = StoredFleet::FromJson(nlohmann::json::parse(text));
    ASSERT_FALSE(decoded.ok()) << text;
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss) << text;
  }
  nlohmann::json other_fleet = {{"name", "blog"},
                                {"source", FleetYaml("shop", "web", 1)},
                                {"generation", 1},
                                {"appliedAt", 0}};
  EXPECT_EQ(StoredFleet::FromJson(other_fleet).status().code(), absl::StatusCode::kDataLoss);
}

// StoredFleet::FromJson passes the parser's INVALID_ARGUMENT through for a stored source that
// no longer parses; stored data that cannot be read should be DATA_LOSS like every other
// malformed record.
TEST(StoredFleet, AStoredSourceThatNoLongerParsesIsDataLoss) {
  nlohmann::json broken = {
      {"name", "shop"}, {"source", "kind: Fleet\n"}, {"generation", 1}, {"appliedAt", 0}};
  EXPECT_EQ(StoredFleet::FromJson(broken).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace shadowfleet

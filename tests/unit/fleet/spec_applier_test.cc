// Applying fleet specs: all or nothing, a no-op for unchanged text, a new generation (with a
// kept copy of every generation) for a changed spec, and group names unique across fleets.
#include "shadowfleet/fleet/spec_applier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

#include "shadowfleet/store/sqlite_store.h"

namespace shadowfleet {
namespace {

using ::testing::HasSubstr;

std::string FleetYaml(const std::string& fleet, const std::string& group, int replicas,
                      const std::string& extra = "") {
  return absl::StrCat("apiVersion: shadowfleet.dev/v1alpha1\nkind: Fleet\nmetadata:\n  name: ",
                      fleet, "\nspec:\n  groups:\n    - name: ", group,
                      "\n      replicas: ", replicas, "\n      provider: {name: sim}\n", extra);
}

class SpecApplierTest : public ::testing::Test {
 protected:
  SpecApplierTest() {
    SqliteStoreOptions options;
    options.path = ":memory:";
    options.synchronous_full = false;
    store_ = std::move(SqliteStore::Open(options).value());
    state_ = std::make_unique<FleetState>(store_.get());
  }

  absl::StatusOr<ApplyResult> Apply(const std::string& yaml,
                                    std::vector<SpecError>* errors = nullptr) {
    EXPECT_TRUE(state_->Sync().ok());
    return ApplyFleetSpecs(*state_, clock_, yaml, "fleet.yaml", "alice", errors);
  }

  ApplyResult ApplyOrDie(const std::string& yaml) {
    absl::StatusOr<ApplyResult> result = Apply(yaml);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.value_or(ApplyResult{});
  }

  int64_t Revision() { return store_->CurrentRevision().value(); }

  FakeClock clock_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<FleetState> state_;
};

TEST_F(SpecApplierTest, StoresANewFleetAsGenerationOne) {
  clock_.SetTime(absl::FromUnixSeconds(1'750'000'000));
  ApplyResult result = ApplyOrDie(FleetYaml("shop", "web", 3));
  ASSERT_EQ(result.fleets.size(), 1u);
  EXPECT_EQ(result.fleets[0].name, "shop");
  EXPECT_EQ(result.fleets[0].generation, 1);
  EXPECT_TRUE(result.fleets[0].changed);
  EXPECT_EQ(result.fleets[0].instances, 3);

  Cached<StoredFleet> fleet = state_->Fleet("shop");
  ASSERT_TRUE(fleet);
  EXPECT_EQ(fleet->generation, 1);
  EXPECT_EQ(fleet->applied_by, "alice");
  EXPECT_EQ(fleet->applied_at, absl::FromUnixSeconds(1'750'000'000));
  EXPECT_EQ(fleet->spec.groups[0].replicas, 3);
  EXPECT_TRUE(store_->Get(kFleetGenerationObject, "shop/1").value().has_value());
  std::vector<EventRecord> events = store_->ListEvents({"shop", "fleet.applied", 0, 10}).value();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].actor, "alice");

  EXPECT_EQ(result.ToJson(), nlohmann::json::parse(R"({"fleets": [
      {"name": "shop", "generation": 1, "changed": true, "instances": 3}]})"));
}

TEST_F(SpecApplierTest, AnInvalidSpecWritesNothingAtAll) {
  ApplyOrDie(FleetYaml("shop", "web", 3));
  int64_t before = Revision();
  std::vector<SpecError> errors;
  absl::StatusOr<ApplyResult> result =
      Apply(FleetYaml("shop", "web", 5) + "---\n" + FleetYaml("blog", "api", -1), &errors);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "spec.groups[0].replicas");
  EXPECT_EQ(errors[0].line, 18);
  EXPECT_EQ(Revision(), before) << "not even the valid fleet of the input was stored";
  ASSERT_TRUE(state_->Sync().ok());
  EXPECT_EQ(state_->Fleet("shop")->spec.groups[0].replicas, 3);
  EXPECT_FALSE(state_->Fleet("blog"));
}

TEST_F(SpecApplierTest, AGroupClaimedByAnotherStoredFleetIsRejected) {
  ApplyOrDie(FleetYaml("shop", "web", 1));
  int64_t before = Revision();
  std::vector<SpecError> errors;
  absl::StatusOr<ApplyResult> result = Apply(FleetYaml("blog", "web", 1), &errors);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("\"shop\""));
  EXPECT_THAT(result.status().message(), HasSubstr("\"blog\""));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, "fleet.yaml");
  EXPECT_EQ(Revision(), before);

  // The owning fleet itself may keep the group.
  EXPECT_TRUE(Apply(FleetYaml("shop", "web", 2)).ok());
}

TEST_F(SpecApplierTest, ReapplyingIdenticalTextIsANoOp) {
  ApplyOrDie(FleetYaml("shop", "web", 3));
  int64_t before = Revision();
  ApplyResult again = ApplyOrDie(FleetYaml("shop", "web", 3));
  ASSERT_EQ(again.fleets.size(), 1u);
  EXPECT_FALSE(again.fleets[0].changed);
  EXPECT_EQ(again.fleets[0].generation, 1);
  EXPECT_EQ(again.fleets[0].instances, 3);
  EXPECT_EQ(Revision(), before);
}

TEST_F(SpecApplierTest, AChangedSpecBumpsTheGenerationAndKeepsEveryGenerationsCopy) {
  ApplyOrDie(FleetYaml("shop", "web", 3));
  clock_.Advance(absl::Minutes(5));
  ApplyResult changed = ApplyOrDie(FleetYaml("shop", "web", 5));
  EXPECT_TRUE(changed.fleets[0].changed);
  EXPECT_EQ(changed.fleets[0].generation, 2);
  EXPECT_EQ(state_->Fleet("shop")->generation, 2);
  EXPECT_EQ(state_->Fleet("shop")->spec.groups[0].replicas, 5);

  std::shared_ptr<const StoredFleet> first = state_->FleetAtGeneration("shop", 1).value();
  std::shared_ptr<const StoredFleet> second = state_->FleetAtGeneration("shop", 2).value();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(first->spec.groups[0].replicas, 3);
  EXPECT_EQ(second->spec.groups[0].replicas, 5);
  EXPECT_EQ(second->applied_at - first->applied_at, absl::Minutes(5));
}

TEST_F(SpecApplierTest, OnlyTheChangedFleetOfAMultiDocumentInputGetsANewGeneration) {
  ApplyOrDie(FleetYaml("shop", "web", 1) + "---\n" + FleetYaml("blog", "api", 1));
  ApplyResult result =
      ApplyOrDie(FleetYaml("shop", "web", 1) + "---\n" + FleetYaml("blog", "api", 2));
  ASSERT_EQ(result.fleets.size(), 2u);
  EXPECT_EQ(result.fleets[0].name, "shop");
  EXPECT_FALSE(result.fleets[0].changed);
  EXPECT_EQ(result.fleets[0].generation, 1);
  EXPECT_EQ(result.fleets[1].name, "blog");
  EXPECT_TRUE(result.fleets[1].changed);
  EXPECT_EQ(result.fleets[1].generation, 2);
  // Each stored source holds exactly its own fleet.
  EXPECT_THAT(state_->Fleet("shop")->source, ::testing::Not(HasSubstr("blog")));
}

TEST_F(SpecApplierTest, CountsOnlyManagedInstances) {
  std::string yaml = FleetYaml("shop", "web", 2) + R"(    - name: db
      provider: {name: exec, settings: {command: [plugin]}}
      live: {mode: adopted}
)";
  ApplyResult result = ApplyOrDie(yaml);
  EXPECT_EQ(result.fleets[0].instances, 2);
}

TEST_F(SpecApplierTest, AnApplyFromAStaleViewIsAbortedWithoutWritingAnything) {
  ApplyOrDie(FleetYaml("shop", "web", 1));
  FleetState other(store_.get());
  ASSERT_TRUE(other.Sync().ok());
  ApplyOrDie(FleetYaml("shop", "web", 2));
  int64_t before = Revision();
  absl::StatusOr<ApplyResult> stale =
      ApplyFleetSpecs(other, clock_, FleetYaml("shop", "web", 7), "fleet.yaml", "bob");
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Revision(), before);
}

// The stored source is the fleet's document re-emitted by yaml-cpp, which drops quotes, so a
// quoted "8080" comes back as the integer 8080 (and "true" as a boolean) when the stored spec
// is parsed again, e.g. by another daemon. Found in SourceOf() in fleet/spec_applier.cc.
TEST_F(SpecApplierTest, TheStoredSpecParsesToTheSameConfigurationAsTheAppliedOne) {
  ApplyOrDie(FleetYaml("shop", "web", 1,
                       "      configuration: {port: \"8080\", debug: \"true\", v: '1.10'}\n"));
  nlohmann::json applied = state_->Group("web")->configuration;
  EXPECT_EQ(applied, nlohmann::json::parse(R"({"port": "8080", "debug": "true", "v": "1.10"})"));
  FleetState fresh(store_.get());
  ASSERT_TRUE(fresh.Sync().ok());
  ASSERT_NE(fresh.Group("web"), nullptr);
  EXPECT_EQ(fresh.Group("web")->configuration, applied);
}

}  // namespace
}  // namespace shadowfleet

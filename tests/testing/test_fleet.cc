#include "testing/test_fleet.h"

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/logging.h"

namespace shadowfleet::testing {
namespace {

// Unit tests print only warnings and errors: the INFO lifecycle log is for operators.
const bool kQuietLogs = SetLogLevel("warn");

}  // namespace

std::string FleetYaml(const std::string& group, int replicas,
                      const std::string& extra_group_fields) {
  return absl::StrCat(R"(apiVersion: shadowfleet.dev/v1alpha1
kind: Fleet
metadata:
  name: test
spec:
  groups:
    - name: )",
                      group, R"(
      replicas: )",
                      replicas, R"(
      instanceType: t.small
      os: {name: debian, version: "12"}
      software:
        - {name: openssl, version: "3.0.15"}
      configuration:
        workers: 4
      provider:
        name: sim
      healthCheck:
        interval: 5s
        failureThreshold: 2
)",
                      extra_group_fields);
}

TestFleet::TestFleet(const std::string& group) {
  auto opened = SqliteStore::Open({":memory:", false});
  EXPECT_TRUE(opened.ok()) << opened.status();
  store = std::move(*opened);
  state = std::make_unique<FleetState>(store.get());
  ledger = std::make_unique<Ledger>(store.get(), &clock);
  ProviderEnvironment environment;
  environment.clock = &clock;
  providers = std::make_unique<ProviderSet>(environment);
  providers->Override(group, provider);
  LiveManagerOptions live_options;
  live_options.workers = 1;
  live_options.observe_interval = absl::Seconds(30);
  live = std::make_unique<LiveManager>(state.get(), ledger.get(), providers.get(), &clock, nullptr,
                                       live_options);
  ShadowManagerOptions shadow_options;
  shadow_options.workers = 1;
  shadow = std::make_unique<ShadowManager>(state.get(), ledger.get(), providers.get(), &clock,
                                           nullptr, shadow_options);
  volumes = std::make_unique<VolumeSyncer>(state.get(), providers.get(), &clock, nullptr, 1);
}

void TestFleet::Apply(const std::string& yaml) {
  ASSERT_TRUE(state->Sync().ok());
  absl::StatusOr<ApplyResult> applied = ApplyFleetSpecs(*state, clock, yaml, "test.yaml", "test");
  ASSERT_TRUE(applied.ok()) << applied.status();
}

void TestFleet::Step() {
  ASSERT_TRUE(state->Sync().ok());
  last_live = live->ReconcileAll();
  ASSERT_TRUE(state->Sync().ok());
  last_shadow = shadow->ReconcileAll();
  ASSERT_TRUE(state->Sync().ok());
}

void TestFleet::Settle(int max) {
  for (int i = 0; i < max; ++i) {
    Step();
    int actions = last_live.added + last_live.spec_versions + last_live.created +
                  last_live.applied + last_live.observed_changes + last_live.removed +
                  last_shadow.created + last_shadow.applied + last_shadow.replaced +
                  last_shadow.removed;
    bool converging = false;
    for (const std::string& id : state->InstanceIds()) {
      Cached<ShadowRecord> s = state->Shadow(id);
      converging =
          converging ||
          (s && (s->phase == ShadowPhase::kApplying || s->phase == ShadowPhase::kBuilding));
    }
    if (actions == 0 && !converging) {
      return;
    }
  }
}

Readiness TestFleet::ReadinessOf(const std::string& instance_id) {
  std::optional<Readiness> r = ComputeInstanceReadiness(*state, instance_id, clock.Now(), nullptr);
  EXPECT_TRUE(r.has_value()) << "no instance " << instance_id;
  return r.value_or(Readiness{});
}

}  // namespace shadowfleet::testing

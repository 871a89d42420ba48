// The simulated provider on a fake clock: builds and applies take their configured time,
// injected failures and crashes are reproducible for a seed, each group lists only its own
// replicas, and out-of-band drift is what Observe() reports.
#include "shadowfleet/provider/sim_provider.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/clock.h"

namespace shadowfleet {
namespace {

GroupSpec SimGroup(const std::string& name, SimProviderSettings settings) {
  GroupSpec group;
  group.name = name;
  group.provider.name = "sim";
  group.provider.settings = settings;
  return group;
}

SimProviderSettings Settings(absl::Duration build = absl::Seconds(30),
                             absl::Duration apply = absl::Seconds(2), uint64_t seed = 1) {
  SimProviderSettings s;
  s.build_delay = build;
  s.apply_delay = apply;
  s.seed = seed;
  return s;
}

CreateRequest Request(const std::string& replica, int64_t version = 1, Role role = Role::kShadow) {
  CreateRequest r;
  r.replica_id = replica;
  r.instance_id = replica.substr(0, replica.rfind('-'));
  r.fleet = "shop";
  r.group = "web";
  r.role = role;
  r.configuration = {{"config", {{"workers", 4}}}};
  r.version = version;
  return r;
}

Replica CreateOrDie(SimProvider& provider, const CreateRequest& request) {
  absl::StatusOr<Replica> replica = provider.Create(request);
  EXPECT_TRUE(replica.ok()) << replica.status();
  return replica.value_or(Replica{});
}

ReplicaStatus CheckOrDie(SimProvider& provider, const Replica& replica) {
  absl::StatusOr<ReplicaStatus> status = provider.Check(replica);
  EXPECT_TRUE(status.ok()) << status.status();
  return status.value_or(ReplicaStatus{});
}

TEST(SimProvider, BuildsForTheBuildDelayThenRunsHealthy) {
  FakeClock clock;
  SimCloud cloud(&clock);
  SimProvider provider(SimGroup("web", Settings(absl::Seconds(30))), &cloud);
  Replica replica = CreateOrDie(provider, Request("web-0-s1", 3));
  EXPECT_EQ(replica.id, "web-0-s1");
  EXPECT_EQ(replica.provider_id, "sim:web-0-s1");
  EXPECT_EQ(replica.created_at, clock.Now());
  EXPECT_EQ(cloud.size(), 1u);

  ReplicaStatus building = CheckOrDie(provider, replica);
  EXPECT_EQ(building.phase, ReplicaPhase::kBuilding);
  EXPECT_FALSE(building.healthy);
  EXPECT_EQ(building.applied_version, 3);
  clock.Advance(absl::Seconds(29));
  EXPECT_EQ(CheckOrDie(provider, replica).phase, ReplicaPhase::kBuilding);
  clock.Advance(absl::Seconds(1));
  ReplicaStatus running = CheckOrDie(provider, replica);
  EXPECT_EQ(running.phase, ReplicaPhase::kRunning);
  EXPECT_TRUE(running.healthy);
  EXPECT_EQ(running.applied_version, 3);
}

TEST(SimProvider, AnAppliedVersionTakesEffectAfterTheApplyDelay) {
  FakeClock clock;
  SimCloud cloud(&clock);
  SimProvider provider(SimGroup("web", Settings(absl::ZeroDuration(), absl::Seconds(2))), &cloud);
  Replica replica = CreateOrDie(provider, Request("web-0-s1", 1));
  absl::StatusOr<Replica> applied = provider.Apply(replica, {{{"a", 1}}, {}, 2});
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->id, replica.id);
  EXPECT_EQ(CheckOrDie(provider, replica).applied_version, 1);
  clock.Advance(absl::Milliseconds(1999));
  EXPECT_EQ(CheckOrDie(provider, replica).applied_version, 1);
  clock.Advance(absl::Milliseconds(1));
  EXPECT_EQ(CheckOrDie(provider, replica).applied_version, 2);
  EXPECT_TRUE(CheckOrDie(provider, replica).healthy);
}

TEST(SimProvider, UnknownReplicasAreGoneAndTerminateIsIdempotent) {
  FakeClock clock;
  SimCloud cloud(&clock);
  SimProvider provider(SimGroup("web", Settings()), &cloud);
  Replica ghost;
  ghost.id = "web-9-s1";
  EXPECT_EQ(CheckOrDie(provider, ghost).phase, ReplicaPhase::kGone);
  EXPECT_EQ(provider.Apply(ghost, {{}, {}, 2}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(provider.Observe(ghost).status().code(), absl::StatusCode::kNotFound);

  Replica replica = CreateOrDie(provider, Request("web-0-s1"));
  EXPECT_TRUE(provider.Terminate(replica).ok());
  EXPECT_TRUE(provider.Terminate(replica).ok());
  EXPECT_EQ(CheckOrDie(provider, replica).phase, ReplicaPhase::kGone);
  EXPECT_EQ(cloud.size(), 0u);
}

// Which of `n` replicas fail to build, for a create failure rate and seed.
std::vector<bool> BuildFailures(double rate, uint64_t seed, int n) {
  FakeClock clock;
  SimCloud cloud(&clock);
  SimProviderSettings settings = Settings(absl::Seconds(1));
  settings.create_failure_rate = rate;
  settings.seed = seed;
  SimProvider provider(SimGroup("web", settings), &cloud);
  std::vector<Replica> replicas;
  for (int i = 0; i < n; ++i) {
    replicas.push_back(CreateOrDie(provider, Request(absl::StrCat("web-", i, "-s1"))));
  }
  clock.Advance(absl::Seconds(1));
  std::vector<bool> failed;
  for (const Replica& replica : replicas) {
    ReplicaStatus status = CheckOrDie(provider, replica);
    failed.push_back(status.phase == ReplicaPhase::kFailed);
    if (failed.back()) {
      EXPECT_EQ(status.detail, "simulated build failure");
    }
  }
  return failed;
}

TEST(SimProvider, BuildFailuresAreReproducibleForASeedAndFollowTheRate) {
  std::vector<bool> first = BuildFailures(0.3, 42, 400);
  EXPECT_EQ(BuildFailures(0.3, 42, 400), first) << "same seed, same failures";
  EXPECT_NE(BuildFailures(0.3, 43, 400), first) << "another seed, other failures";
  double rate = static_cast<double>(std::count(first.begin(), first.end(), true)) / 400;
  EXPECT_NEAR(rate, 0.3, 0.08);
  std::vector<bool> none = BuildFailures(0, 42, 100);
  EXPECT_EQ(std::count(none.begin(), none.end(), true), 0);
  std::vector<bool> all = BuildFailures(1, 42, 100);
  EXPECT_EQ(std::count(all.begin(), all.end(), true), 100);
}

// Which of `n` applies fail, for an apply failure rate and seed.
std::vector<bool> ApplyFailures(double rate, uint64_t seed, int n) {
  FakeClock clock;
  SimCloud cloud(&clock);
  SimProviderSettings settings = Settings(absl::ZeroDuration());
  settings.apply_failure_rate = rate;
  settings.seed = seed;
  SimProvider provider(SimGroup("web", settings), &cloud);
  Replica replica = CreateOrDie(provider, Request("web-0-s1"));
  std::vector<bool> failed;
  for (int v = 2; v < n + 2; ++v) {
    absl::StatusOr<Replica> applied = provider.Apply(replica, {{}, {}, v});
    failed.push_back(!applied.ok());
    if (!applied.ok()) {
      EXPECT_EQ(applied.status().code(), absl::StatusCode::kUnavailable);
    }
  }
  return failed;
}

TEST(SimProvider, ApplyFailuresAreReproducibleForASeedAndFollowTheRate) {
  std::vector<bool> first = ApplyFailures(0.5, 7, 400);
  EXPECT_EQ(ApplyFailures(0.5, 7, 400), first);
  EXPECT_NE(ApplyFailures(0.5, 8, 400), first);
  double rate = static_cast<double>(std::count(first.begin(), first.end(), true)) / 400;
  EXPECT_NEAR(rate, 0.5, 0.08);
  std::vector<bool> none = ApplyFailures(0, 7, 100);
  EXPECT_EQ(std::count(none.begin(), none.end(), true), 0);
}

// The number of `n` running replicas that have crashed after `after`.
int CrashedAfter(double rate_per_hour, absl::Duration after, int n, uint64_t seed = 5) {
  FakeClock clock;
  SimCloud cloud(&clock);
  SimProviderSettings settings = Settings(absl::ZeroDuration());
  settings.crash_rate_per_hour = rate_per_hour;
  settings.seed = seed;
  SimProvider provider(SimGroup("web", settings), &cloud);
  std::vector<Replica> replicas;
  for (int i = 0; i < n; ++i) {
    replicas.push_back(CreateOrDie(provider, Request(absl::StrCat("web-", i, "-s1"))));
  }
  clock.Advance(after);
  int crashed = 0;
  for (const Replica& replica : replicas) {
    ReplicaStatus status = CheckOrDie(provider, replica);
    if (status.phase == ReplicaPhase::kFailed) {
      EXPECT_EQ(status.detail, "simulated crash");
      crashed++;
    }
  }
  return crashed;
}

TEST(SimProvider, RunningReplicasCrashAtTheConfiguredRate) {
  // With one crash per hour, a replica survives an hour with probability e^-1.
  int crashed = CrashedAfter(1.0, absl::Hours(1), 500);
  EXPECT_NEAR(crashed / 500.0, 1 - std::exp(-1.0), 0.07);
  EXPECT_EQ(CrashedAfter(1.0, absl::Hours(1), 500), crashed) << "reproducible for a seed";
  EXPECT_LT(CrashedAfter(1.0, absl::Minutes(1), 500), 40);
  EXPECT_EQ(CrashedAfter(0, absl::Hours(10'000), 100), 0) << "rate 0 never crashes";
}

TEST(SimProvider, ACrashedReplicaStaysFailed) {
  FakeClock clock;
  SimCloud cloud(&clock);
  SimProvider provider(SimGroup("web", Settings(absl::ZeroDuration())), &cloud);
  Replica replica = CreateOrDie(provider, Request("web-0-s1"));
  EXPECT_TRUE(cloud.Crash(replica.id, "out of memory"));
  EXPECT_FALSE(cloud.Crash("web-7-s1", "no such replica"));
  ReplicaStatus status = CheckOrDie(provider, replica);
  EXPECT_EQ(status.phase, ReplicaPhase::kFailed);
  EXPECT_EQ(status.detail, "out of memory");
  EXPECT_FALSE(status.healthy);
  clock.Advance(absl::Hours(1));
  EXPECT_EQ(CheckOrDie(provider, replica).phase, ReplicaPhase::kFailed);
}

TEST(SimProvider, ListsOnlyItsOwnGroupsReplicas) {
  FakeClock clock;
  SimCloud cloud(&clock);
  SimProvider web(SimGroup("web", Settings()), &cloud);
  SimProvider db(SimGroup("db", Settings()), &cloud);
  CreateOrDie(web, Request("web-0-l1", 1, Role::kLive));
  clock.Advance(absl::Seconds(3));
  CreateOrDie(web, Request("web-0-s2", 1, Role::kShadow));
  CreateOrDie(db, Request("db-0-l1", 1, Role::kLive));

  std::vector<ListedReplica> listed = web.List().value();
  std::sort(listed.begin(), listed.end(), [](const ListedReplica& a, const ListedReplica& b) {
    return a.replica.id < b.replica.id;
  });
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].replica.id, "web-0-l1");
  EXPECT_EQ(listed[0].instance_id, "web-0");
  EXPECT_EQ(listed[0].group, "web");
  EXPECT_EQ(listed[0].role, Role::kLive);
  EXPECT_EQ(listed[0].replica.provider_id, "sim:web-0-l1");
  EXPECT_EQ(listed[1].role, Role::kShadow);
  EXPECT_EQ(listed[1].replica.created_at - listed[0].replica.created_at, absl::Seconds(3));
  ASSERT_EQ(db.List().value().size(), 1u);
  EXPECT_EQ(db.List().value()[0].replica.id, "db-0-l1");
}

TEST(SimProvider, ObserveReportsDriftSetOutOfBand) {
  FakeClock clock;
  SimCloud cloud(&clock);
  SimProvider provider(SimGroup("web", Settings()), &cloud);
  Replica replica = CreateOrDie(provider, Request("web-0-l1", 1, Role::kLive));
  EXPECT_FALSE(provider.Observe(replica).value().has_value()) << "no drift: nothing to report";
  nlohmann::json drift = {{"software", {{"openssl", "3.0.16"}}}};
  EXPECT_TRUE(cloud.SetDrift(replica.id, drift));
  EXPECT_FALSE(cloud.SetDrift("web-5-l1", drift));
  std::optional<nlohmann::json> observed = provider.Observe(replica).value();
  ASSERT_TRUE(observed.has_value());
  EXPECT_EQ(*observed, drift);
}

TEST(SimProvider, SyncVolumeReportsDataAsOfTheConfiguredLag) {
  FakeClock clock;
  SimCloud cloud(&clock);
  SimProviderSettings settings = Settings();
  settings.data_sync_lag_seconds = 4;
  SimProvider provider(SimGroup("web", settings), &cloud);
  Replica live = CreateOrDie(provider, Request("web-0-l1", 1, Role::kLive));
  Replica shadow = CreateOrDie(provider, Request("web-0-s2"));
  VolumeSpec volume;
  volume.name = "data";
  absl::StatusOr<VolumeSyncResult> synced = provider.SyncVolume(live, shadow, volume);
  ASSERT_TRUE(synced.ok()) << synced.status();
  EXPECT_EQ(synced->synced_as_of, clock.Now() - absl::Seconds(4));
  ASSERT_TRUE(provider.Terminate(shadow).ok());
  EXPECT_EQ(provider.SyncVolume(live, shadow, volume).status().code(), absl::StatusCode::kNotFound);
}

TEST(MakeProvider, BuildsTheProviderItsGroupNames) {
  FakeClock clock;
  SimCloud cloud(&clock);
  ProviderEnvironment environment;
  environment.clock = &clock;
  environment.sim_cloud = &cloud;
  absl::StatusOr<std::unique_ptr<Provider>> sim =
      MakeProvider(SimGroup("web", Settings()), environment);
  ASSERT_TRUE(sim.ok()) << sim.status();
  EXPECT_STREQ((*sim)->name(), "sim");

  ProviderEnvironment no_cloud = environment;
  no_cloud.sim_cloud = nullptr;
  EXPECT_EQ(MakeProvider(SimGroup("web", Settings()), no_cloud).status().code(),
            absl::StatusCode::kInvalidArgument);
  ProviderEnvironment no_clock = environment;
  no_clock.clock = nullptr;
  EXPECT_EQ(MakeProvider(SimGroup("web", Settings()), no_clock).status().code(),
            absl::StatusCode::kInvalidArgument);
  GroupSpec mismatched = SimGroup("web", Settings());
  mismatched.provider.name = "gcp";
  EXPECT_EQ(MakeProvider(mismatched, environment).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_STREQ(ReplicaPhaseName(ReplicaPhase::kGone), "gone");
}

}  // namespace
}  // namespace shadowfleet

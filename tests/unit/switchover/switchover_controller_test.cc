// The switchover state machine on a fake clock with a fake router and synthetic metrics:
// canary steps in order, promotion and retirement of the old replica only after the bake
// time, rollback when the new replica does worse, operator actions, fleet limits, and
// recovery of every phase by a restarted controller.
#include "shadowfleet/switchover/switchover_controller.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "testing/switchover_fakes.h"
#include "testing/test_fleet.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::FakeMetrics;
using ::shadowfleet::testing::FakeRouter;
using ::shadowfleet::testing::FleetYaml;
using ::shadowfleet::testing::TestFleet;

constexpr char kPolicy[] = R"(      switchover:
        initialWeight: 10
        stepWeight: 30
        stepInterval: 20s
        sampleInterval: 1s
        minSamples: 10
        bakeTime: 30s
        progressDeadline: 10m
        maxConcurrent: 1
)";

class SwitchoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fleet_.Apply(FleetYaml("web", 3, kPolicy));
    fleet_.Settle();
    controller_ = MakeController();
  }

  std::unique_ptr<SwitchoverController> MakeController() {
    return std::make_unique<SwitchoverController>(
        fleet_.state.get(), fleet_.providers.get(),
        [this](const GroupSpec&) -> absl::StatusOr<std::shared_ptr<Router>> { return router_; },
        [this](const GroupSpec&) -> ReplicaMetricsSource* { return &metrics_; }, &fleet_.clock,
        nullptr, SwitchoverControllerOptions{1});
  }

  // Advances the fake clock a second at a time, running the whole control loop.
  void Run(absl::Duration d, SwitchoverController* controller = nullptr) {
    SwitchoverController* c = controller != nullptr ? controller : controller_.get();
    for (absl::Duration t; t < d; t += absl::Seconds(1)) {
      fleet_.clock.Advance(absl::Seconds(1));
      fleet_.Step();
      c->ReconcileAll();
    }
  }

  SwitchoverRecord StartFor(const std::string& instance) {
    SwitchoverRequest request;
    request.instance_id = instance;
    request.actor = "alice";
    request.reason = "test";
    absl::StatusOr<SwitchoverRecord> started = controller_->Start(request);
    EXPECT_TRUE(started.ok()) << started.status();
    fleet_.Step();
    return started.value_or(SwitchoverRecord{});
  }

  std::string LiveOf(const std::string& id) { return fleet_.state->Instance(id)->live->id; }
  std::string ShadowOf(const std::string& id) {
    Cached<ShadowRecord> s = fleet_.state->Shadow(id);
    return s && s->replica ? s->replica->id : "";
  }

  TestFleet fleet_;
  std::shared_ptr<FakeRouter> router_ = std::make_shared<FakeRouter>();
  FakeMetrics metrics_;
  std::unique_ptr<SwitchoverController> controller_;
};

TEST_F(SwitchoverTest, StepsThroughTheCanaryPromotesBakesAndRetiresTheOldReplica) {
  std::string old_live = LiveOf("web-0");
  std::string shadow = ShadowOf("web-0");
  SwitchoverRecord sw = StartFor("web-0");

  Run(absl::Seconds(3));
  EXPECT_EQ(router_->Weight(shadow), 10);
  EXPECT_EQ(router_->Weight(old_live), 90);
  Run(absl::Seconds(20));
  EXPECT_EQ(router_->Weight(shadow), 40);
  Run(absl::Seconds(20));
  EXPECT_EQ(router_->Weight(shadow), 70);
  Run(absl::Seconds(20));
  EXPECT_EQ(router_->Weight(shadow), 100);
  Run(absl::Seconds(20));
  // Promoted and baking: the old replica must still exist until the bake time has passed.
  std::optional<SwitchoverRecord> baking = controller_->Get(sw.id);
  ASSERT_TRUE(baking);
  EXPECT_EQ(baking->phase, SwitchoverPhase::kBaking);
  EXPECT_TRUE(fleet_.provider->Has(old_live));
  EXPECT_EQ(router_->Weight(old_live), 0);

  Run(absl::Seconds(35));
  std::optional<SwitchoverRecord> done = controller_->Get(sw.id);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->phase, SwitchoverPhase::kComplete) << done->outcome;
  EXPECT_EQ(LiveOf("web-0"), shadow);
  EXPECT_FALSE(fleet_.provider->Has(old_live));
  EXPECT_THAT(router_->removed(), ::testing::Contains(old_live));
  EXPECT_TRUE(router_->PairNeverEmpty(old_live, shadow));
  // Every step was judged, with the numbers recorded.
  ASSERT_GE(done->judgements.size(), 4u);
  for (const JudgementRecord& j : done->judgements) {
    EXPECT_NE(j.judgement.verdict, Verdict::kFail) << j.judgement.reason;
  }
  // The Shadow Fleet Manager builds a fresh shadow for the new live replica.
  Run(absl::Seconds(3));
  EXPECT_NE(ShadowOf("web-0"), "");
  EXPECT_NE(ShadowOf("web-0"), shadow);
  EXPECT_TRUE(fleet_.ReadinessOf("web-0").ready);
}

TEST_F(SwitchoverTest, RollsBackWhenTheNewReplicaServesErrors) {
  std::string old_live = LiveOf("web-1");
  std::string shadow = ShadowOf("web-1");
  metrics_.Set(shadow, 0.3, 0.05);
  SwitchoverRecord sw = StartFor("web-1");
  Run(absl::Seconds(25));
  std::optional<SwitchoverRecord> after = controller_->Get(sw.id);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->phase, SwitchoverPhase::kRolledBack);
  EXPECT_THAT(after->outcome, ::testing::HasSubstr("error rate"));
  EXPECT_EQ(router_->Weight(old_live), 100);
  EXPECT_EQ(router_->Weight(shadow), 0);
  // The old replica still serves; it was never touched.
  EXPECT_EQ(LiveOf("web-1"), old_live);
  EXPECT_TRUE(fleet_.provider->Has(old_live));
  EXPECT_TRUE(fleet_.state->Instance("web-1")->active_switchover.empty());
  ASSERT_EQ(after->judgements.size(), 1u);
  EXPECT_EQ(after->judgements[0].weight, 10) << "judged and rolled back at the first step";
  EXPECT_TRUE(router_->PairNeverEmpty(old_live, shadow));
}

TEST_F(SwitchoverTest, RollsBackWhenLatencyRises) {
  std::string shadow = ShadowOf("web-2");
  metrics_.Set(shadow, 0.0, 0.3);
  SwitchoverRecord sw = StartFor("web-2");
  Run(absl::Seconds(25));
  std::optional<SwitchoverRecord> after = controller_->Get(sw.id);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->phase, SwitchoverPhase::kRolledBack);
  EXPECT_THAT(after->outcome, ::testing::HasSubstr("latency"));
}

TEST_F(SwitchoverTest, OperatorsCanPausePromoteAndAbort) {
  SwitchoverRecord a = StartFor("web-0");
  Run(absl::Seconds(3));
  ASSERT_TRUE(controller_->Act(a.id, OperatorAction::kPause, "bob", "looking").ok());
  Run(absl::Seconds(60));
  EXPECT_EQ(controller_->Get(a.id)->phase, SwitchoverPhase::kPaused);
  EXPECT_EQ(controller_->Get(a.id)->weight, 10) << "a paused canary holds its weight";
  ASSERT_TRUE(controller_->Act(a.id, OperatorAction::kPromote, "bob", "looks fine").ok());
  Run(absl::Seconds(2));
  EXPECT_EQ(controller_->Get(a.id)->phase, SwitchoverPhase::kBaking);
  EXPECT_EQ(controller_->Get(a.id)->weight, 100);
  ASSERT_TRUE(controller_->Act(a.id, OperatorAction::kAbort, "carol", "changed my mind").ok());
  Run(absl::Seconds(2));
  std::optional<SwitchoverRecord> aborted = controller_->Get(a.id);
  EXPECT_EQ(aborted->phase, SwitchoverPhase::kRolledBack);
  EXPECT_THAT(aborted->outcome, ::testing::HasSubstr("carol"));
  // Every decision and action is in the audit log with who did it.
  auto events = fleet_.store->ListEvents({"web-0", "switchover.", 0, 100});
  ASSERT_TRUE(events.ok());
  std::vector<std::string> kinds;
  for (const EventRecord& e : *events) {
    kinds.push_back(e.kind + "/" + e.actor);
  }
  EXPECT_THAT(kinds, ::testing::IsSupersetOf(
                         {"switchover.requested/alice", "switchover.operator.pause/bob",
                          "switchover.operator.promote/bob", "switchover.operator.abort/carol"}));
  EXPECT_FALSE(controller_->Act(a.id, OperatorAction::kResume, "x", "y").ok());
}

TEST_F(SwitchoverTest, RespectsTheConcurrencyLimitAndAdmitsByPriority) {
  SwitchoverRequest low{"web-0", SwitchoverTrigger::kRisk, "engine", "risk 0.71", {}, {}, 0.71};
  SwitchoverRequest high{"web-1", SwitchoverTrigger::kRisk, "engine", "risk 0.95", {}, {}, 0.95};
  ASSERT_TRUE(controller_->Start(low).ok());
  ASSERT_TRUE(controller_->Start(high).ok());
  Run(absl::Seconds(2));
  std::optional<SwitchoverRecord> web0 = controller_->ActiveFor("web-0");
  std::optional<SwitchoverRecord> web1 = controller_->ActiveFor("web-1");
  ASSERT_TRUE(web0 && web1);
  EXPECT_EQ(web1->phase, SwitchoverPhase::kStepping) << "the riskier instance goes first";
  EXPECT_EQ(web0->phase, SwitchoverPhase::kPending) << "maxConcurrent is 1";
  EXPECT_FALSE(controller_->Start(low).ok()) << "one active switchover per instance";
}

TEST_F(SwitchoverTest, FailsOverAtOnceWhenLiveIsLost) {
  std::string old_live = LiveOf("web-2");
  std::string shadow = ShadowOf("web-2");
  fleet_.provider->SetStatus(old_live, ReplicaPhase::kFailed, false);
  fleet_.clock.Advance(absl::Seconds(10));
  fleet_.Step();
  ASSERT_EQ(fleet_.state->Instance("web-2")->live_phase, LivePhase::kLost);
  SwitchoverRequest request{"web-2", SwitchoverTrigger::kFailover, "controller", "live lost"};
  ASSERT_TRUE(controller_->Start(request).ok());
  Run(absl::Seconds(3));
  EXPECT_EQ(LiveOf("web-2"), shadow);
  EXPECT_EQ(router_->Weight(shadow), 100);
}

// A restarted daemon finds every switchover where the store says it was, and each one still
// ends promoted or rolled back with traffic never at 0 % and the old replica kept until the
// bake is over.
TEST_F(SwitchoverTest, EveryPhaseResumesAfterARestart) {
  for (int stop_after = 1; stop_after <= 130; stop_after += 7) {
    TestFleet fleet;
    fleet.Apply(FleetYaml("web", 1, kPolicy));
    fleet.Settle();
    auto router = std::make_shared<FakeRouter>();
    FakeMetrics metrics;
    auto make = [&] {
      return std::make_unique<SwitchoverController>(
          fleet.state.get(), fleet.providers.get(),
          [&](const GroupSpec&) -> absl::StatusOr<std::shared_ptr<Router>> { return router; },
          [&](const GroupSpec&) -> ReplicaMetricsSource* { return &metrics; }, &fleet.clock,
          nullptr, SwitchoverControllerOptions{1});
    };
    auto controller = make();
    std::string old_live = fleet.state->Instance("web-0")->live->id;
    std::string shadow = fleet.state->Shadow("web-0")->replica->id;
    SwitchoverRequest request{"web-0", SwitchoverTrigger::kManual, "t", "restart test"};
    ASSERT_TRUE(controller->Start(request).ok());
    auto run = [&](SwitchoverController* c, int seconds) {
      for (int i = 0; i < seconds; ++i) {
        fleet.clock.Advance(absl::Seconds(1));
        fleet.Step();
        c->ReconcileAll();
        std::optional<SwitchoverRecord> sw = c->ActiveFor("web-0");
        if (sw &&
            (sw->phase == SwitchoverPhase::kStepping || sw->phase == SwitchoverPhase::kBaking)) {
          // Until the bake is over the old replica must exist.
          ASSERT_TRUE(fleet.provider->Has(old_live)) << "stopped after " << stop_after;
        }
      }
    };
    run(controller.get(), stop_after);
    // The daemon dies: its memory (sample windows, applied weights) is gone.
    controller.reset();
    fleet.state = std::make_unique<FleetState>(fleet.store.get());
    controller = make();
    ASSERT_TRUE(fleet.state->Sync().ok());
    fleet.live =
        std::make_unique<LiveManager>(fleet.state.get(), fleet.ledger.get(), fleet.providers.get(),
                                      &fleet.clock, nullptr, LiveManagerOptions{});
    fleet.shadow = std::make_unique<ShadowManager>(fleet.state.get(), fleet.ledger.get(),
                                                   fleet.providers.get(), &fleet.clock, nullptr,
                                                   ShadowManagerOptions{});
    run(controller.get(), 200);
    std::vector<SwitchoverRecord> all = controller->List(false);
    ASSERT_EQ(all.size(), 1u);
    EXPECT_TRUE(all[0].phase == SwitchoverPhase::kComplete ||
                all[0].phase == SwitchoverPhase::kRolledBack)
        << "stopped after " << stop_after << ": " << SwitchoverPhaseName(all[0].phase);
    EXPECT_TRUE(router->PairNeverEmpty(old_live, shadow)) << "stopped after " << stop_after;
    if (all[0].phase == SwitchoverPhase::kComplete) {
      EXPECT_EQ(fleet.state->Instance("web-0")->live->id, shadow);
      EXPECT_FALSE(fleet.provider->Has(old_live));
    }
  }
}

}  // namespace
}  // namespace shadowfleet

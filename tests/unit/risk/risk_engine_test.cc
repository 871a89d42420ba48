// The risk engine driving the switchover controller on a fake clock: the seed's rule (risk
// above threshold and a ready shadow starts a switchover, with its reasons recorded), an
// instance at risk without a ready shadow reported as unprotected, outcomes fed back to the
// learner, and what a rolled-back switchover teaches: no retry on the same live replica for a
// while, unless the risk grows well past what it was.
#include "shadowfleet/prediction/risk_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "testing/switchover_fakes.h"
#include "testing/test_fleet.h"

#include "shadowfleet/switchover/switchover_controller.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::FakeMetrics;
using ::shadowfleet::testing::FakeRouter;
using ::shadowfleet::testing::FleetYaml;
using ::shadowfleet::testing::TestFleet;
using ::testing::HasSubstr;

// A model whose probability per instance the test sets (by instance id, through the signals).
class FixedRiskModel : public RiskModel {
 public:
  RiskAssessment Assess(const InstanceSignals& signals) const override {
    std::lock_guard lock(mu_);
    RiskAssessment a;
    auto it = risk_.find(signals.instance_id);
    a.probability = it == risk_.end() ? 0.05 : it->second;
    a.horizon = absl::Minutes(30);
    a.top_factors.push_back({"memory", "memory use rising", a.probability});
    a.model_version = "fixed";
    return a;
  }
  std::string version() const override { return "fixed"; }
  absl::Duration horizon() const override { return absl::Minutes(30); }
  void Set(const std::string& instance, double p) {
    std::lock_guard lock(mu_);
    risk_[instance] = p;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, double> risk_;
};

class RecordingLearner : public RiskLearner {
 public:
  std::shared_ptr<const RiskModel> Current() const override { return model; }
  void RecordExample(const InstanceSignals& signals, absl::Time at) override {
    (void)signals;
    (void)at;
    examples++;
  }
  void RecordFailure(const std::string& instance_id, absl::Time at,
                     const std::string& kind) override {
    (void)at;
    failures.push_back(instance_id + ":" + kind);
  }
  void RecordCensored(const std::string& instance_id, absl::Time at) override {
    (void)at;
    censored.push_back(instance_id);
  }

  std::shared_ptr<FixedRiskModel> model = std::make_shared<FixedRiskModel>();
  int examples = 0;
  std::vector<std::string> failures;
  std::vector<std::string> censored;
};

constexpr char kPolicy[] = R"(      switchover:
        initialWeight: 10
        stepWeight: 30
        stepInterval: 20s
        sampleInterval: 1s
        minSamples: 10
        bakeTime: 30s
        progressDeadline: 10m
        maxConcurrent: 2
        riskThreshold: 0.7
)";

class RiskEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fleet_.Apply(FleetYaml("web", 3, kPolicy));
    fleet_.Settle();
    controller_ = std::make_unique<SwitchoverController>(
        fleet_.state.get(), fleet_.providers.get(),
        [this](const GroupSpec&) -> absl::StatusOr<std::shared_ptr<Router>> { return router_; },
        [this](const GroupSpec&) -> ReplicaMetricsSource* { return &metrics_; }, &fleet_.clock,
        nullptr, SwitchoverControllerOptions{1});
    engine_ = MakeEngine();
  }

  std::unique_ptr<RiskEngine> MakeEngine() {
    auto engine =
        std::make_unique<RiskEngine>(fleet_.state.get(), fleet_.ledger.get(), &tracker_, &learner_,
                                     &fleet_.clock, nullptr, RiskEngineOptions{});
    engine->Connect(controller_.get(), fleet_.shadow.get());
    return engine;
  }

  // Advances the fake clock a second at a time, running the fleet, the controller and (every
  // five seconds) the risk engine.
  void Run(absl::Duration d) {
    for (absl::Duration t; t < d; t += absl::Seconds(1)) {
      fleet_.clock.Advance(absl::Seconds(1));
      fleet_.Step();
      controller_->ReconcileAll();
      if (++ticks_ % 5 == 0) {
        engine_->ScoreAll();
      }
    }
  }

  std::vector<SwitchoverRecord> SwitchoversOf(const std::string& instance) {
    std::vector<SwitchoverRecord> out;
    for (const SwitchoverRecord& sw : controller_->List(/*active_only=*/false)) {
      if (sw.instance_id == instance) {
        out.push_back(sw);
      }
    }
    return out;
  }
  std::string ShadowOf(const std::string& id) {
    Cached<ShadowRecord> s = fleet_.state->Shadow(id);
    return s && s->replica ? s->replica->id : "";
  }
  std::string LiveOf(const std::string& id) { return fleet_.state->Instance(id)->live->id; }
  int EventsOfKind(const std::string& kind) {
    absl::StatusOr<std::vector<EventRecord>> events = fleet_.store->ListEvents({});
    EXPECT_TRUE(events.ok()) << events.status();
    int n = 0;
    for (const EventRecord& e : events.value_or(std::vector<EventRecord>{})) {
      n += e.kind == kind;
    }
    return n;
  }

  // Starts a risk switchover of web-0 whose shadow serves errors, and runs it to its rollback.
  void RollBackARiskSwitchover(double risk) {
    learner_.model->Set("web-0", risk);
    metrics_.Set(ShadowOf("web-0"), 0.3, 0.05);
    engine_->ScoreAll();
    ASSERT_EQ(SwitchoversOf("web-0").size(), 1u);
    Run(absl::Seconds(40));
    ASSERT_EQ(SwitchoversOf("web-0").back().phase, SwitchoverPhase::kRolledBack)
        << SwitchoversOf("web-0").back().ToJson().dump(2);
  }

  TestFleet fleet_;
  std::shared_ptr<FakeRouter> router_ = std::make_shared<FakeRouter>();
  FakeMetrics metrics_;
  SignalTracker tracker_;
  RecordingLearner learner_;
  std::unique_ptr<SwitchoverController> controller_;
  std::unique_ptr<RiskEngine> engine_;
  int ticks_ = 0;
};

TEST_F(RiskEngineTest, RiskAboveThresholdWithAReadyShadowStartsASwitchoverWithItsReasons) {
  learner_.model->Set("web-0", 0.85);
  learner_.model->Set("web-1", 0.69);
  engine_->ScoreAll();

  std::vector<SwitchoverRecord> started = SwitchoversOf("web-0");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].trigger, SwitchoverTrigger::kRisk);
  EXPECT_EQ(started[0].requested_by, "risk-engine");
  EXPECT_THAT(started[0].reason, HasSubstr("risk 0.85 >= 0.70"));
  EXPECT_THAT(started[0].reason, HasSubstr("memory use rising"));
  EXPECT_DOUBLE_EQ(started[0].decision.value("risk", 0.0), 0.85);
  EXPECT_TRUE(started[0].decision["readiness"].value("ready", false));
  EXPECT_TRUE(SwitchoversOf("web-1").empty()) << "below its threshold";
  std::optional<RiskView> view = engine_->Get("web-0");
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->recommendation, Recommendation::kRefreshNow);
  EXPECT_EQ(engine_->Get("web-1")->recommendation, Recommendation::kWatch);
}

TEST_F(RiskEngineTest, AtRiskWithoutAReadyShadowIsReportedUnprotectedAndNotSwitched) {
  // The shadow dies, and its replacement is still being built.
  fleet_.provider->SetNewReplicaPhase(ReplicaPhase::kBuilding);
  ASSERT_TRUE(fleet_.provider->SetStatus(ShadowOf("web-2"), ReplicaPhase::kFailed, false));
  fleet_.clock.Advance(absl::Seconds(6));
  fleet_.Step();
  fleet_.Step();
  ASSERT_FALSE(fleet_.ReadinessOf("web-2").ready);
  learner_.model->Set("web-2", 0.9);
  engine_->ScoreAll();

  EXPECT_TRUE(SwitchoversOf("web-2").empty());
  std::optional<RiskView> view = engine_->Get("web-2");
  ASSERT_TRUE(view.has_value());
  EXPECT_TRUE(view->unprotected);
  EXPECT_EQ(EventsOfKind("risk.unprotected"), 1);
  engine_->ScoreAll();
  EXPECT_EQ(EventsOfKind("risk.unprotected"), 1) << "reported once, not on every pass";
}

TEST_F(RiskEngineTest, ACompletedSwitchoverCensorsTheOldReplicaAndACrashIsAFailure) {
  learner_.model->Set("web-0", 0.8);
  engine_->ScoreAll();
  std::string old_live = LiveOf("web-0");
  learner_.model->Set("web-0", 0.05);  // The new live replica is healthy.
  Run(absl::Minutes(3));
  ASSERT_EQ(SwitchoversOf("web-0").back().phase, SwitchoverPhase::kComplete);
  ASSERT_NE(LiveOf("web-0"), old_live);
  EXPECT_THAT(learner_.censored, ::testing::ElementsAre("web-0"));
  EXPECT_TRUE(learner_.failures.empty());

  ASSERT_TRUE(fleet_.provider->SetStatus(LiveOf("web-1"), ReplicaPhase::kFailed, false));
  Run(absl::Seconds(30));
  EXPECT_THAT(learner_.failures, ::testing::Contains(HasSubstr("web-1:")));
}

TEST_F(RiskEngineTest, InstancesRemovedFromTheFleetLeaveTheRiskViews) {
  engine_->ScoreAll();
  ASSERT_TRUE(engine_->Get("web-2").has_value());
  fleet_.Apply(FleetYaml("web", 2, kPolicy));
  fleet_.Settle();
  engine_->ScoreAll();
  EXPECT_FALSE(engine_->Get("web-2").has_value());
  EXPECT_EQ(engine_->All().size(), 2u);
}

TEST_F(RiskEngineTest, ARolledBackSwitchoverHoldsBackTheNextAttemptOnTheSameReplica) {
  RollBackARiskSwitchover(0.8);
  Run(absl::Minutes(4));
  EXPECT_EQ(SwitchoversOf("web-0").size(), 1u) << "no retry within the hold";
  std::optional<RiskView> view = engine_->Get("web-0");
  ASSERT_TRUE(view.has_value());
  EXPECT_THAT(view->held_back, HasSubstr("1 risk switchover of"));
  EXPECT_EQ(EventsOfKind("risk.held_back"), 1);

  metrics_.Set(ShadowOf("web-0"), 0, 0.05);
  Run(absl::Minutes(2));
  std::vector<SwitchoverRecord> all = SwitchoversOf("web-0");
  ASSERT_EQ(all.size(), 2u) << "retried once the hold (5 min) passed";
  EXPECT_EQ(all.back().decision.value("earlierRollbacks", 0), 1);
}

TEST_F(RiskEngineTest, RiskGrowingWellPastTheRolledBackAttemptRetriesAtOnce) {
  RollBackARiskSwitchover(0.8);
  learner_.model->Set("web-0", 0.88);
  engine_->ScoreAll();
  EXPECT_EQ(SwitchoversOf("web-0").size(), 1u) << "0.88 < 1 - (1 - 0.8) / 2";
  learner_.model->Set("web-0", 0.91);
  engine_->ScoreAll();
  EXPECT_EQ(SwitchoversOf("web-0").size(), 2u);
}

TEST_F(RiskEngineTest, TheHoldIsReadFromHistorySoARestartedEngineKeepsIt) {
  RollBackARiskSwitchover(0.8);
  engine_ = MakeEngine();
  engine_->ScoreAll();
  EXPECT_EQ(SwitchoversOf("web-0").size(), 1u);
  EXPECT_FALSE(engine_->Get("web-0")->held_back.empty());
}

TEST_F(RiskEngineTest, EveryFurtherRollbackDoublesTheHold) {
  RollBackARiskSwitchover(0.8);
  Run(absl::Minutes(5));  // The hold passes; the retry's shadow still serves errors.
  ASSERT_EQ(SwitchoversOf("web-0").size(), 2u);
  Run(absl::Seconds(40));
  ASSERT_EQ(SwitchoversOf("web-0").back().phase, SwitchoverPhase::kRolledBack);
  Run(absl::Minutes(8));
  EXPECT_EQ(SwitchoversOf("web-0").size(), 2u) << "the second hold is 10 min";
  EXPECT_THAT(engine_->Get("web-0")->held_back, HasSubstr("2 risk switchovers of"));
  Run(absl::Minutes(3));
  EXPECT_EQ(SwitchoversOf("web-0").size(), 3u);
}

}  // namespace
}  // namespace shadowfleet

// NovelBinDetector: bit-for-bit the scores of the reference implementation on nine synthetic
// series (every row checked), causality, missing samples, warm-up, bounded state.
#include "shadowfleet/prediction/anomaly_detector.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "novel_bin_fixtures.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::ExpectedScore;
using ::shadowfleet::testing::kNaN;
using ::shadowfleet::testing::TestSeries;

std::vector<double> ScoreSeries(const TestSeries& series) {
  NovelBinDetector detector;
  std::vector<double> scores;
  for (size_t i = 0; i < series.values.size(); ++i) {
    scores.push_back(detector.Update(series.values[i], series.times[i]));
  }
  return scores;
}

struct FixtureCase {
  std::string name;
  TestSeries series;
  const std::vector<ExpectedScore>* expected;
  size_t rows;
};

class NovelBinDetectorReference : public ::testing::TestWithParam<int> {};

std::vector<FixtureCase> Cases() {
  using namespace ::shadowfleet::testing;
  return {{"Daily", DailySeries(), &kDailyScores, 1000},
          {"Flat", FlatSeries(), &kFlatScores, 600},
          {"Walk", WalkSeries(), &kWalkScores, 1200},
          {"Trend", TrendSeries(), &kTrendScores, 3000},
          {"HeavyTail", HeavyTailSeries(), &kHeavyTailScores, 3000},
          {"PhaseShift", PhaseShiftSeries(), &kPhaseShiftScores, 2500},
          {"Downward", DownwardSeries(), &kDownwardScores, 4000},
          {"Steps", StepsSeries(), &kStepsScores, 4000},
          {"Counts", CountsSeries(), &kCountsScores, 4000}};
}

TEST_P(NovelBinDetectorReference, MatchesReferenceScoresExactlyOnEveryRow) {
  FixtureCase c = Cases()[static_cast<size_t>(GetParam())];
  ASSERT_EQ(c.series.values.size(), c.rows) << c.name;
  std::vector<double> scores = ScoreSeries(c.series);

  std::map<int, double> expected;
  for (const ExpectedScore& e : *c.expected) {
    expected[e.row] = e.score;
  }
  int mismatches = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    auto it = expected.find(static_cast<int>(i));
    double want = it == expected.end() ? 0.0 : it->second;
    if (scores[i] != want && ++mismatches <= 5) {
      ADD_FAILURE() << c.name << " row " << i << ": got " << scores[i] << ", want " << want;
    }
  }
  EXPECT_EQ(mismatches, 0) << c.name;
}

INSTANTIATE_TEST_SUITE_P(NineSeries, NovelBinDetectorReference, ::testing::Range(0, 9));

TEST(NovelBinDetector, FixturesExerciseManyAlerts) {
  size_t alerts = 0;
  for (const FixtureCase& c : Cases()) {
    alerts += c.expected->size();
  }
  EXPECT_GE(alerts, 150u);
}

TEST(NovelBinDetector, ScoresZeroThroughoutWarmUp) {
  NovelBinDetector detector;
  for (int i = 0; i < NovelBinDetector::kWarmupSamples; ++i) {
    EXPECT_EQ(detector.Update(i % 2 == 0 ? 1.0 : 1.0e9, 1000.0 * i), 0.0);
  }
  EXPECT_TRUE(detector.warmed_up());
}

TEST(NovelBinDetector, MissingSamplesDoNotCountTowardsWarmUp) {
  NovelBinDetector detector;
  for (int i = 0; i < NovelBinDetector::kWarmupSamples - 1; ++i) {
    detector.Update(i % 7, 60.0 * i);
  }
  detector.Update(kNaN, 1.0e6);
  detector.Update(1.0, kNaN);
  detector.Update(std::numeric_limits<double>::infinity(), 1.0e6);
  EXPECT_FALSE(detector.warmed_up());
  detector.Update(3.0, 1.0e6);
  EXPECT_TRUE(detector.warmed_up());
}

TEST(NovelBinDetector, ScoreDependsOnlyOnThePast) {
  TestSeries series = ::shadowfleet::testing::StepsSeries();
  std::vector<double> full = ScoreSeries(series);
  // Changing everything after row 2000 changes no score up to row 2000.
  TestSeries altered = series;
  for (size_t i = 2001; i < altered.values.size(); ++i) {
    altered.values[i] = -altered.values[i] * 3;
  }
  std::vector<double> prefix = ScoreSeries(altered);
  for (size_t i = 0; i <= 2000; ++i) {
    ASSERT_EQ(full[i], prefix[i]) << i;
  }
}

TEST(NovelBinDetector, ScoresStayWithinZeroAndOne) {
  for (const FixtureCase& c : Cases()) {
    for (double s : ScoreSeries(c.series)) {
      ASSERT_GE(s, 0.0) << c.name;
      ASSERT_LE(s, 1.0) << c.name;
    }
  }
}

TEST(NovelBinDetector, FlagsAJumpFarOutsideEverythingSeenAsAnAlert) {
  NovelBinDetector detector;
  ::shadowfleet::testing::Lcg r(23);
  for (int i = 0; i < 2000; ++i) {
    detector.Update(100 + static_cast<double>(r.Next() % 100) / 10, 60.0 * i);
  }
  EXPECT_GE(detector.Update(500, 60.0 * 2000), kAnomalyAlertThreshold);
}

TEST(NovelBinDetector, StateIsSmallAndShrinksAfterWarmUp) {
  NovelBinDetector detector;
  size_t during = detector.StateBytes();
  for (int i = 0; i < 100000; ++i) {
    detector.Update(i % 1000, 60.0 * i);
  }
  size_t after = detector.StateBytes();
  EXPECT_LT(during, 12 * 1024u);
  EXPECT_LT(after, 3 * 1024u);
  EXPECT_LT(after, during);
}

TEST(AnomalyDetector, DefaultIsTheNovelBinDetector) {
  std::unique_ptr<AnomalyDetector> detector = NewAnomalyDetector();
  ASSERT_NE(detector, nullptr);
  EXPECT_NE(dynamic_cast<NovelBinDetector*>(detector.get()), nullptr);
}

}  // namespace
}  // namespace shadowfleet

// The NAB scorer on small corpora written to a temporary directory: hand-computed raw scores,
// the null detector at 0 and a perfect one at 100 on every profile, the corpus threshold
// optimiser (including "detect nothing" and ties), probation, and window mapping.
#include "shadowfleet/eval/nab_scorer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "test_corpus.h"
#include "testing/temp_dir.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::TempDir;
using ::shadowfleet::testing::TestFile;
using ::shadowfleet::testing::WriteCorpus;

NabCorpus LoadOrDie(const std::string& root) {
  absl::StatusOr<NabCorpus> corpus = LoadNabCorpus(root);
  EXPECT_TRUE(corpus.ok()) << corpus.status();
  return corpus.ok() ? std::move(*corpus) : NabCorpus{};
}

const NabProfile& Profile(const NabCorpus& corpus, const std::string& name) {
  for (const NabProfile& p : corpus.profiles) {
    if (p.name == name) {
      return p;
    }
  }
  ADD_FAILURE() << "no profile " << name;
  return corpus.profiles.front();
}

CorpusScores Zeros(const NabCorpus& corpus) {
  CorpusScores scores;
  for (const NabFile& f : corpus.files) {
    scores.emplace_back(f.series.size(), 0.0);
  }
  return scores;
}

// 20 rows (probation: rows 0-2), one window over rows 8-11 (width 4).
class TinyCorpus : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteCorpus(dir_.path(), {{"tiny/a.csv", 20, {{8, 11}}}});
    corpus_ = LoadOrDie(dir_.path());
    scores_ = Zeros(corpus_);
    std::vector<double>& s = scores_[0];
    s[1] = 0.99;  // In probation: never counts.
    s[5] = 0.3;   // Before the window: a full false positive.
    s[9] = 0.8;   // Second row of the window.
    s[10] = 0.9;  // Third row: worth less than row 9.
    s[13] = 0.6;  // Two rows after the window.
  }

  TempDir dir_;
  NabCorpus corpus_;
  CorpusScores scores_;
};

TEST_F(TinyCorpus, RawScoresMatchTheHandComputation) {
  // At threshold 0.3 rows 5, 9, 10 and 13 are detections.
  //   window: earliest detection row 9: S(-(11 - 9 + 1) / 4) / S(-1)
  //           = S(-0.75) / S(-1) = 0.9540452601799487 / 0.9866142981514305 = 0.9669890878000605
  //   row 5, before any window: -fpWeight
  //   row 13: fpWeight * S((13 - 11) / (4 - 1)) = fpWeight * -0.9311096086675776
  NabScorer scorer(corpus_);
  absl::StatusOr<NabProfileScore> standard =
      scorer.ScoreAt(scores_, Profile(corpus_, "standard"), 0.3);
  ASSERT_TRUE(standard.ok()) << standard.status();
  EXPECT_NEAR(standard->raw, 0.9669890878000605 - 0.11 - 0.11 * 0.9311096086675776, 1e-15);
  EXPECT_NEAR(standard->raw, 0.754567030846627, 1e-15);
  ASSERT_EQ(standard->files.size(), 1u);
  const NabFileScore& f = standard->files[0];
  EXPECT_EQ(f.windows, 1);
  EXPECT_EQ(f.detected, 1);
  EXPECT_EQ(f.missed, 0);
  EXPECT_EQ(f.fp_rows, 2);
  EXPECT_EQ(f.tp_rows, 2);

  absl::StatusOr<NabProfileScore> low_fp =
      scorer.ScoreAt(scores_, Profile(corpus_, "reward_low_FP_rate"), 0.3);
  EXPECT_NEAR(low_fp->raw, 0.5421449738931935, 1e-15);
  // Normalised between null (-1) and perfect (+1).
  EXPECT_NEAR(standard->score, 100 * (0.754567030846627 + 1) / 2, 1e-12);
}

TEST_F(TinyCorpus, OptimiserPicksTheThresholdThatKeepsOnlyTheBestDetection) {
  NabScorer scorer(corpus_);
  absl::StatusOr<NabProfileScore> r = scorer.Score(scores_, Profile(corpus_, "standard"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->threshold, 0.8);
  EXPECT_NEAR(r->raw, 0.9669890878000605, 1e-15);
  EXPECT_NEAR(r->score, 100 * (0.9669890878000605 + 1) / 2, 1e-12);

  // Low-FN profile: null is -2 (fnWeight 2), perfect +1.
  absl::StatusOr<NabProfileScore> fn =
      scorer.Score(scores_, Profile(corpus_, "reward_low_FN_rate"));
  EXPECT_NEAR(fn->score, 100 * (0.9669890878000605 + 2) / 3, 1e-12);
}

TEST_F(TinyCorpus, EqualTotalsGoToTheHighestThreshold) {
  // Row 11 (a later, worse detection in the same window) adds nothing at threshold 0.7, so
  // 0.8 and 0.7 tie; the optimiser must keep 0.8.
  scores_[0][11] = 0.7;
  NabScorer scorer(corpus_);
  absl::StatusOr<std::vector<NabSweepPoint>> sweep =
      scorer.Sweep(scores_, Profile(corpus_, "standard"));
  ASSERT_TRUE(sweep.ok());
  ASSERT_GE(sweep->size(), 4u);
  EXPECT_TRUE(std::isinf((*sweep)[0].threshold));
  EXPECT_EQ((*sweep)[0].raw, -1.0);
  EXPECT_EQ((*sweep)[2].threshold, 0.8);
  EXPECT_EQ((*sweep)[3].threshold, 0.7);
  EXPECT_EQ((*sweep)[2].raw, (*sweep)[3].raw);
  EXPECT_EQ(scorer.Score(scores_, Profile(corpus_, "standard"))->threshold, 0.8);
}

TEST(NabScaledSigmoid, IsMinusOneOnlyStrictlyBeyondThreeWidths) {
  EXPECT_NEAR(NabScaledSigmoid(0.0), 0.0, 1e-15);
  EXPECT_GT(NabScaledSigmoid(3.0), -1.0);
  EXPECT_NEAR(NabScaledSigmoid(3.0), 2.0 / (1.0 + std::exp(15.0)) - 1.0, 0.0);
  EXPECT_EQ(NabScaledSigmoid(std::nextafter(3.0, 4.0)), -1.0);
}

TEST(NabProbationRows, IsFifteenPercentCappedAt750) {
  EXPECT_EQ(NabProbationRows(20), 3);
  EXPECT_EQ(NabProbationRows(4032), 604);
  EXPECT_EQ(NabProbationRows(5000), 750);
  EXPECT_EQ(NabProbationRows(22695), 750);
}

// Several categories (none of them NAB's), several windows per file, a file without anomalies,
// a window partly in probation and one entirely in it.
class MixedCorpus : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteCorpus(dir_.path(), {{"diskFull/host1.csv", 400, {{100, 120}, {300, 310}}},
                              {"diskFull/host2.csv", 300, {}},
                              {"memoryLeak/svc.csv", 200, {{35, 50}, {10, 20}}},
                              {"oneRow/x.csv", 100, {{50, 50}}}});
    corpus_ = LoadOrDie(dir_.path());
  }

  // Fires on the first scorable row of every counted window.
  CorpusScores Perfect() const {
    CorpusScores scores = Zeros(corpus_);
    for (size_t f = 0; f < corpus_.files.size(); ++f) {
      const NabFile& file = corpus_.files[f];
      for (const NabWindow& w : file.windows) {
        if (w.last_row >= file.probation_rows) {
          scores[f][static_cast<size_t>(std::max(w.first_row, file.probation_rows))] = 1.0;
        }
      }
    }
    return scores;
  }

  TempDir dir_;
  NabCorpus corpus_;
};

TEST_F(MixedCorpus, LoadsAnyCategoryAndCountsOnlyWindowsAfterProbation) {
  ASSERT_EQ(corpus_.files.size(), 4u);
  EXPECT_EQ(corpus_.files[0].category, "diskFull");
  EXPECT_EQ(corpus_.files[2].name, "memoryLeak/svc.csv");
  EXPECT_EQ(corpus_.files[2].probation_rows, 30);
  // Windows are ordered by row whatever their order in the labels.
  EXPECT_EQ(corpus_.files[2].windows[0].first_row, 10);
  EXPECT_EQ(corpus_.files[2].windows[1].first_row, 35);
  // host1: 2, svc: 1 (the 10-20 window lies in probation), oneRow: 1.
  EXPECT_EQ(NabScorer(corpus_).counted_windows(), 4);
  EXPECT_EQ(corpus_.rows(), 1000);
}

TEST_F(MixedCorpus, NullDetectorScoresZeroAndPerfectDetectorHundredOnEveryProfile) {
  NabScorer scorer(corpus_);
  CorpusScores perfect = Perfect();
  for (const NabProfile& p : corpus_.profiles) {
    absl::StatusOr<NabProfileScore> null = scorer.Score(Zeros(corpus_), p);
    ASSERT_TRUE(null.ok());
    EXPECT_NEAR(null->score, 0.0, 1e-12) << p.name;
    absl::StatusOr<NabProfileScore> best = scorer.Score(perfect, p);
    ASSERT_TRUE(best.ok());
    EXPECT_NEAR(best->score, 100.0, 1e-12) << p.name;
    EXPECT_EQ(best->threshold, 1.0);
  }
}

TEST_F(MixedCorpus, AlwaysFiringIsWorseThanNothingSoTheOptimiserDetectsNothing) {
  NabScorer scorer(corpus_);
  CorpusScores always = Zeros(corpus_);
  for (std::vector<double>& s : always) {
    std::fill(s.begin(), s.end(), 1.0);
  }
  const NabProfile& standard = Profile(corpus_, "standard");
  EXPECT_LT(scorer.ScoreAt(always, standard, 0.5)->score, 0.0);
  absl::StatusOr<NabProfileScore> r = scorer.Score(always, standard);
  EXPECT_TRUE(std::isinf(r->threshold));
  EXPECT_NEAR(r->score, 0.0, 1e-12);
}

TEST_F(MixedCorpus, SweepAgreesWithScoringAtEveryCandidateThreshold) {
  NabScorer scorer(corpus_);
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  CorpusScores scores = Zeros(corpus_);
  for (std::vector<double>& s : scores) {
    for (double& v : s) {
      v = std::floor(uniform(rng) * 50) / 50;  // Many ties.
    }
  }
  for (const NabProfile& p : corpus_.profiles) {
    absl::StatusOr<std::vector<NabSweepPoint>> sweep = scorer.Sweep(scores, p);
    ASSERT_TRUE(sweep.ok());
    EXPECT_EQ(sweep->size(), 51u);
    for (const NabSweepPoint& point : *sweep) {
      EXPECT_NEAR(scorer.ScoreAt(scores, p, point.threshold)->raw, point.raw, 1e-9)
          << p.name << " at " << point.threshold;
    }
  }
}

TEST_F(MixedCorpus, OneRowWindowMakesEveryLaterFalsePositiveFullCost) {
  NabScorer scorer(corpus_);
  EXPECT_EQ(scorer.RowValue(3, 50), 1.0);   // The window's only row.
  EXPECT_EQ(scorer.RowValue(3, 51), -1.0);  // Right after it, already the full cost.
  EXPECT_EQ(scorer.RowValue(3, 10), 0.0);   // Probation.
  EXPECT_EQ(scorer.RowValue(0, 99), -1.0);  // Before the first window.
  EXPECT_NEAR(scorer.RowValue(0, 121), NabScaledSigmoid(1.0 / 20), 1e-15);
}

TEST_F(MixedCorpus, RejectsScoresOfTheWrongShape) {
  NabScorer scorer(corpus_);
  CorpusScores scores = Zeros(corpus_);
  scores[1].pop_back();
  absl::StatusOr<NabProfileScore> r = scorer.Score(scores, corpus_.profiles[0]);
  EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr("diskFull/host2.csv: 299 scores"));
}

TEST(NabWindows, AWindowStraddlingProbationIsScoredFromItsFirstScorableRow) {
  TempDir dir;
  WriteCorpus(dir.path(), {{"c/f.csv", 100, {{10, 19}}}});  // Probation: rows 0-14.
  NabCorpus corpus = LoadOrDie(dir.path());
  NabScorer scorer(corpus);
  EXPECT_EQ(scorer.counted_windows(), 1);
  EXPECT_EQ(scorer.RowValue(0, 14), 0.0);
  EXPECT_NEAR(scorer.RowValue(0, 15), NabScaledSigmoid(-5.0 / 10) / NabScaledSigmoid(-1.0), 1e-15);
}

TEST(NabWindows, MapToTheRowsTheirTimesFallOn) {
  TempDir dir;
  WriteCorpus(dir.path(), {{"c/f.csv", 100, {}}});
  // Start between rows 20 and 21, end between rows 30 and 31.
  shadowfleet::testing::WriteText(
      dir.File("labels/combined_windows.json"),
      R"({"c/f.csv": [["2015-01-01 00:20:30.000000", "2015-01-01T00:30:30Z"]]})");
  NabCorpus corpus = LoadOrDie(dir.path());
  ASSERT_EQ(corpus.files[0].windows.size(), 1u);
  EXPECT_EQ(corpus.files[0].windows[0].first_row, 21);
  EXPECT_EQ(corpus.files[0].windows[0].last_row, 30);
}

}  // namespace
}  // namespace shadowfleet

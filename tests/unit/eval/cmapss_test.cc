// The C-MAPSS pipeline on small synthetic fleets made here: engines whose sensors drift as
// they wear out, in one or six operating regimes. Reading errors name file and line, the
// regimes are found, the model learns remaining life and failure within 30 cycles, and
// `eval cmapss -o json` prints the agreed field names.
#include "shadowfleet/eval/cmapss.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "testing/temp_dir.h"

#include "shadowfleet/cli/cli.h"
#include "shadowfleet/common/files.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::TempDir;
using ::testing::HasSubstr;

// FD002's six nominal operating settings.
constexpr double kRegimes[6][3] = {{0, 0, 100},    {10, 0.25, 100}, {20, 0.7, 100},
                                   {25, 0.62, 60}, {35, 0.84, 100}, {42, 0.84, 100}};

struct SyntheticFleet {
  std::string train;
  std::string test;
  std::string rul;
};

// Engines live 120-250 cycles. Wear w = exp(-(remaining life)/40) moves two sensors; a third
// is constant and a fourth pure noise (both should be dropped). With `regimes` > 1, every
// cycle flies in a random regime that shifts each sensor by a regime-specific amount.
SyntheticFleet MakeFleet(int train_units, int test_units, int regimes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 0.3);
  std::uniform_int_distribution<int> life(120, 250);
  std::uniform_int_distribution<int> regime(0, regimes - 1);
  const std::string header = "unit,cycle,s1,s2,s3,a,b,c,d\n";
  SyntheticFleet out{header, header, ""};
  for (int u = 1; u <= train_units + test_units; ++u) {
    const bool test = u > train_units;
    const int l = life(rng);
    const int last = test ? std::uniform_int_distribution<int>(40, l - 1)(rng) : l;
    for (int c = 1; c <= last; ++c) {
      const int r = regimes == 1 ? 0 : regime(rng);
      const double w = std::exp(-(l - c) / 40.0);
      std::string& file = test ? out.test : out.train;
      absl::StrAppend(&file, test ? u - train_units : u, ",", c, ",",
                      kRegimes[r][0] + noise(rng) * 0.001, ",", kRegimes[r][1], ",", kRegimes[r][2],
                      ",", 100 + 10 * r + 5 * w + noise(rng), ",", 50 - 7 * r - 3 * w + noise(rng),
                      ",", 7, ",", 20 + noise(rng), "\n");
    }
    if (test) {
      absl::StrAppend(&out.rul, l - last, "\n");
    }
  }
  return out;
}

CmapssOptions FastOptions() {
  CmapssOptions o;
  o.regressor.rounds = 150;
  o.regressor.eta = 0.1;
  o.classifier.rounds = 150;
  o.classifier.eta = 0.1;
  o.calibration_folds = 3;
  o.nthread = 1;  // Tests run beside each other; threads would only contend.
  return o;
}

absl::StatusOr<CmapssSet> Parse(const TempDir& dir, const std::string& name,
                                const std::string& text) {
  EXPECT_TRUE(WriteFileAtomically(dir.File(name), text).ok());
  return ReadCmapssCsv(dir.File(name));
}

TEST(CmapssData, ReadsUnitsAndDropsTheRulColumn) {
  TempDir dir;
  absl::StatusOr<CmapssSet> set =
      Parse(dir, "t.csv",
            "unit,cycle,s1,s2,s3,a,RUL,b\n1,1,0,0,100,1.5,2,3\n1,2,0,0,100,1.6,1,3\n"
            "2,1,0,0,100,1.7,0,3\n");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->sensor_names, (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(set->units.size(), 2u);
  EXPECT_EQ(set->units[0].rows(), 2u);
  EXPECT_EQ(set->units[0].sensors, (std::vector<double>{1.5, 3, 1.6, 3}));
  EXPECT_EQ(set->rows(), 3u);
}

TEST(CmapssData, MalformedFilesNameFileLineAndProblem) {
  TempDir dir;
  const std::string header = "unit,cycle,s1,s2,s3,a\n";
  struct Case {
    std::string body;
    std::string message;
  } cases[] = {
      {"1,1,0,0,100,x\n", ":2: column 6 (a): \"x\" is not a finite number"},
      {"1,1,0,0,100,1\n1,1,0,0,100,1\n", ":3: cycle 1 of unit 1 does not follow cycle 1"},
      {"1,1,0,0,100,1\n2,1,0,0,100,1\n1,2,0,0,100,1\n", ":4: unit 1 appears again"},
      {"1.5,1,0,0,100,1\n", ":2: unit \"1.5\" is not a whole number"},
      {"1,1,0,0,100\n", ":2: expected 6 fields"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<CmapssSet> set = Parse(dir, "bad.csv", header + c.body);
    ASSERT_FALSE(set.ok()) << c.body;
    EXPECT_THAT(std::string(set.status().message()), HasSubstr(dir.File("bad.csv") + c.message));
  }
  absl::StatusOr<CmapssSet> short_header = Parse(dir, "h.csv", "unit,cycle,s1\n1,1,0\n");
  EXPECT_THAT(std::string(short_header.status().message()), HasSubstr(":1: expected unit"));
}

TEST(CmapssData, RulFileCountAndValuesAreChecked) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.File("rul.txt"), "10\n20\n30").ok());
  absl::StatusOr<std::vector<double>> rul = ReadRulFile(dir.File("rul.txt"), 3);
  ASSERT_TRUE(rul.ok()) << rul.status();
  EXPECT_EQ(*rul, (std::vector<double>{10, 20, 30}));
  EXPECT_THAT(std::string(ReadRulFile(dir.File("rul.txt"), 4).status().message()),
              HasSubstr("3 remaining-life values, but the test file has 4 units"));
  ASSERT_TRUE(WriteFileAtomically(dir.File("bad.txt"), "10\n-4\n").ok());
  EXPECT_THAT(std::string(ReadRulFile(dir.File("bad.txt"), 2).status().message()),
              HasSubstr("bad.txt:2: \"-4\" is not a non-negative number"));
}

TEST(CmapssFeatures, FindsSixRegimesAndKeepsOnlyInformativeSensors) {
  TempDir dir;
  SyntheticFleet fleet = MakeFleet(20, 0, 6, 1);
  absl::StatusOr<CmapssSet> train = Parse(dir, "train.csv", fleet.train);
  ASSERT_TRUE(train.ok()) << train.status();
  CmapssPreprocessor prep = CmapssPreprocessor::Fit(*train);
  EXPECT_EQ(prep.conditions().count(), 6);
  EXPECT_EQ(prep.kept_sensors(), (std::vector<std::string>{"a", "b"}));

  SyntheticFleet single = MakeFleet(20, 0, 1, 2);
  absl::StatusOr<CmapssSet> one = Parse(dir, "one.csv", single.train);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(CmapssPreprocessor::Fit(*one).conditions().count(), 1);
  // age, 2 EWMAs, 2 slopes, HI, 3 HI EWMAs, 3 HI slopes, HI_dev, HI_cumslope.
  EXPECT_EQ(CmapssFeatureNames(prep.kept_sensors()).size(), 14u);
}

TEST(CmapssModel, LearnsRemainingLifeAndFailureWithinThirtyCycles) {
  TempDir dir;
  SyntheticFleet fleet = MakeFleet(40, 30, 6, 3);
  absl::StatusOr<CmapssSet> train = Parse(dir, "train.csv", fleet.train);
  absl::StatusOr<CmapssSet> test = Parse(dir, "test.csv", fleet.test);
  ASSERT_TRUE(train.ok() && test.ok());
  ASSERT_TRUE(WriteFileAtomically(dir.File("rul.txt"), fleet.rul).ok());
  absl::StatusOr<std::vector<double>> rul = ReadRulFile(dir.File("rul.txt"), 30);
  ASSERT_TRUE(rul.ok());

  absl::StatusOr<nlohmann::json> r = EvaluateCmapss(*train, *test, *rul, FastOptions());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)["units"], 30);
  EXPECT_EQ((*r)["conditions"], 6);
  // Remaining life beyond ~120 cycles is invisible in these sensors (w < 0.05), hence the cap.
  EXPECT_LT((*r)["rmse"].get<double>(), 20.0);
  EXPECT_LT((*r)["brier"].get<double>(), 0.1);
  EXPECT_GE((*r)["recall"].get<double>(), 0.5);
}

TEST(CmapssMetrics, ScoresAgainstTheCappedTruth) {
  // Estimates 10 late, 13 early and exact; the first truth is capped from 200 to 125.
  CmapssMetrics m = ScoreCmapss({135, 37, 20}, {0.1, 0.2, 0.9}, {200, 50, 20});
  EXPECT_NEAR(m.rmse, std::sqrt((100.0 + 169.0) / 3), 1e-12);
  EXPECT_NEAR(m.phm08_score, (std::exp(1.0) - 1) + (std::exp(1.0) - 1), 1e-12);
  EXPECT_EQ(m.positives, 1u);
  EXPECT_DOUBLE_EQ(m.precision, 1.0);
  EXPECT_DOUBLE_EQ(m.recall, 1.0);
  EXPECT_NEAR(m.brier, (0.01 + 0.04 + 0.01) / 3, 1e-12);
}

TEST(CmapssModel, FoldsCoverEveryUnitOnce) {
  std::vector<std::vector<size_t>> folds = UnitFolds(23, 5, 7);
  ASSERT_EQ(folds.size(), 5u);
  std::vector<int> seen(23, 0);
  for (const auto& fold : folds) {
    EXPECT_GE(fold.size(), 4u);
    for (size_t u : fold) {
      ++seen[u];
    }
  }
  EXPECT_EQ(seen, std::vector<int>(23, 1));
}

int RunCommand(std::vector<std::string> args) {
  args.insert(args.begin(), "shadowfleet");
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  return RunCli(static_cast<int>(argv.size()), argv.data());
}

TEST(EvalCmapssCommand, PrintsTheAgreedFieldsAsJson) {
  TempDir dir;
  SyntheticFleet fleet = MakeFleet(15, 10, 1, 4);
  ASSERT_TRUE(WriteFileAtomically(dir.File("train.csv"), fleet.train).ok());
  ASSERT_TRUE(WriteFileAtomically(dir.File("test.csv"), fleet.test).ok());
  ASSERT_TRUE(WriteFileAtomically(dir.File("rul.txt"), fleet.rul).ok());
  ::testing::internal::CaptureStdout();
  int code = RunCommand({"eval", "cmapss", "--train", dir.File("train.csv"), "--test",
                         dir.File("test.csv"), "--rul", dir.File("rul.txt"), "--threads", "1", "-o",
                         "json"});
  std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_EQ(code, 0) << out;
  nlohmann::json j = nlohmann::json::parse(out);
  for (const char* field : {"rmse", "phm08_score", "precision", "recall", "brier"}) {
    EXPECT_TRUE(j.contains(field) && j[field].is_number()) << field;
  }
}

TEST(EvalCmapssCommand, BadInputExitsWithTwoNamingTheFile) {
  TempDir dir;
  SyntheticFleet fleet = MakeFleet(6, 3, 1, 5);
  ASSERT_TRUE(WriteFileAtomically(dir.File("train.csv"), fleet.train).ok());
  ASSERT_TRUE(WriteFileAtomically(dir.File("test.csv"), fleet.test).ok());
  ASSERT_TRUE(WriteFileAtomically(dir.File("rul.txt"), "5\n6\n").ok());
  ::testing::internal::CaptureStderr();
  int code = RunCommand({"eval", "cmapss", "--train", dir.File("train.csv"), "--test",
                         dir.File("test.csv"), "--rul", dir.File("rul.txt")});
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, kExitUsage);
  EXPECT_THAT(err, HasSubstr(dir.File("rul.txt") + ": 2 remaining-life values"));

  ::testing::internal::CaptureStderr();
  code = RunCommand({"eval", "cmapss", "--train", dir.File("missing.csv"), "--test",
                     dir.File("test.csv"), "--rul", dir.File("rul.txt")});
  ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, kExitUsage);
}

}  // namespace
}  // namespace shadowfleet

// Loading NAB-layout corpora: every kind of malformed or inconsistent corpus is refused with
// a message naming the file (and line) and the fault; score files in both layouts are found;
// results written by one run are valid score files for the next.
#include "shadowfleet/eval/nab_corpus.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_corpus.h"
#include "testing/temp_dir.h"

#include "shadowfleet/common/files.h"
#include "shadowfleet/eval/nab_evaluation.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::TempDir;
using ::shadowfleet::testing::WriteCorpus;
using ::shadowfleet::testing::WriteText;
using ::testing::HasSubstr;

class CorpusErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteCorpus(dir_.path(), {{"realTest/a.csv", 50, {{20, 25}}}, {"realTest/b.csv", 50, {}}});
  }
  std::string Error() { return std::string(LoadNabCorpus(dir_.path()).status().message()); }

  TempDir dir_;
};

TEST_F(CorpusErrors, AValidCorpusLoads) {
  EXPECT_TRUE(LoadNabCorpus(dir_.path()).ok());
}

TEST_F(CorpusErrors, MalformedDataRowNamesTheFileAndLine) {
  WriteText(dir_.File("data/realTest/b.csv"),
            "timestamp,value\n2015-01-01 00:00:00,1\n2015-01-01 00:01:00,x\n");
  EXPECT_THAT(Error(), HasSubstr("data/realTest/b.csv:3: value \"x\" is not a finite number"));
}

TEST_F(CorpusErrors, MalformedJsonNamesTheLine) {
  WriteText(dir_.File("labels/combined_windows.json"),
            "{\n  \"realTest/a.csv\": [],\n  \"realTest/b.csv\": [,]\n}\n");
  std::string e = Error();
  EXPECT_THAT(e, HasSubstr("labels/combined_windows.json:3: malformed JSON"));
}

TEST_F(CorpusErrors, DataFileWithoutLabelsIsRefused) {
  WriteText(dir_.File("data/realTest/c.csv"), "timestamp,value\n1,1\n");
  EXPECT_THAT(Error(), HasSubstr("has no entry for data/realTest/c.csv"));
}

TEST_F(CorpusErrors, LabelsWithoutDataFileAreRefused) {
  WriteText(dir_.File("labels/combined_windows.json"),
            R"({"realTest/a.csv": [], "realTest/b.csv": [], "realTest/gone.csv": []})");
  EXPECT_THAT(Error(), HasSubstr("names realTest/gone.csv but data/realTest/gone.csv does not"));
}

TEST_F(CorpusErrors, LabelKeyMustBeCategoryAndFile) {
  WriteText(dir_.File("labels/combined_windows.json"),
            R"({"a.csv": [], "realTest/a.csv": [], "realTest/b.csv": []})");
  EXPECT_THAT(Error(), HasSubstr("key \"a.csv\" is not of the form <category>/<file>.csv"));
}

TEST_F(CorpusErrors, WindowsMustBePairsOfTimestampsInsideTheFile) {
  WriteText(dir_.File("labels/combined_windows.json"),
            R"({"realTest/a.csv": [["2015-01-01 00:20:00"]], "realTest/b.csv": []})");
  EXPECT_THAT(Error(), HasSubstr("\"realTest/a.csv\": window 1 is not a [start, end] pair"));

  WriteText(dir_.File("labels/combined_windows.json"),
            R"({"realTest/a.csv": [["2015-01-01 00:20:00", "soon"]], "realTest/b.csv": []})");
  EXPECT_THAT(Error(), HasSubstr("window 1 timestamp \"soon\" is neither"));

  WriteText(dir_.File("labels/combined_windows.json"),
            R"({"realTest/a.csv": [["2016-01-01 00:00:00", "2016-01-02 00:00:00"]],
                "realTest/b.csv": []})");
  EXPECT_THAT(Error(), HasSubstr("covers no row of"));
}

TEST_F(CorpusErrors, OverlappingWindowsAreRefused) {
  WriteText(dir_.File("labels/combined_windows.json"),
            R"({"realTest/a.csv": [["2015-01-01 00:10:00", "2015-01-01 00:20:00"],
                                   ["2015-01-01 00:15:00", "2015-01-01 00:25:00"]],
                "realTest/b.csv": []})");
  EXPECT_THAT(Error(), HasSubstr("overlap"));
}

TEST_F(CorpusErrors, ProfilesNeedTheirThreeWeights) {
  WriteText(dir_.File("profiles.json"), R"({"standard": {"CostMatrix": {"tpWeight": 1}}})");
  EXPECT_THAT(Error(), HasSubstr("profiles.json: profile \"standard\": CostMatrix.fnWeight is "
                                 "missing or not a number"));
}

TEST_F(CorpusErrors, MissingFilesAreNotFound) {
  std::filesystem::remove(dir_.File("profiles.json"));
  EXPECT_TRUE(absl::IsNotFound(LoadNabCorpus(dir_.path()).status()));
  EXPECT_TRUE(absl::IsNotFound(LoadNabCorpus(dir_.File("nowhere")).status()));
}

TEST(NabCorpus, ProfilesComeInNabOrderThenByName) {
  TempDir dir;
  WriteCorpus(dir.path(), {{"x/a.csv", 10, {}}});
  WriteText(dir.File("profiles.json"), R"({
    "zeta": {"CostMatrix": {"tpWeight": 1, "fnWeight": 1, "fpWeight": 0.5}},
    "reward_low_FN_rate": {"CostMatrix": {"tpWeight": 1, "fnWeight": 2, "fpWeight": 0.11}},
    "standard": {"CostMatrix": {"tpWeight": 1, "fnWeight": 1, "fpWeight": 0.11}}})");
  absl::StatusOr<NabCorpus> corpus = LoadNabCorpus(dir.path());
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  ASSERT_EQ(corpus->profiles.size(), 3u);
  EXPECT_EQ(corpus->profiles[0].name, "standard");
  EXPECT_EQ(corpus->profiles[1].name, "reward_low_FN_rate");
  EXPECT_EQ(corpus->profiles[2].name, "zeta");
  EXPECT_EQ(corpus->profiles[2].fp_weight, 0.5);
}

TEST(NabEvaluation, FindsScoreFilesInTheDataLayoutAndInNabsResultsLayout) {
  TempDir dir;
  WriteCorpus(dir.File("corpus"), {{"cat/a.csv", 40, {{20, 22}}}, {"cat/b.csv", 40, {}}});
  absl::StatusOr<NabCorpus> corpus = LoadNabCorpus(dir.File("corpus"));
  ASSERT_TRUE(corpus.ok());
  std::string header = "timestamp,value,anomaly_score\n";
  std::string a = header, b = header;
  for (int i = 0; i < 40; ++i) {
    std::string t = shadowfleet::testing::RowTime(i);
    absl::StrAppend(&a, t, ",", i, ",", i == 20 ? 1 : 0, "\n");
    absl::StrAppend(&b, t, ",", i, ",0\n");
  }
  WriteText(dir.File("scores/cat/a.csv"), a);
  WriteText(dir.File("scores/cat/mydetector_b.csv"), b);
  absl::StatusOr<CorpusScores> scores = ReadCorpusScores(*corpus, dir.File("scores"));
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_EQ((*scores)[0][20], 1.0);

  std::filesystem::remove(dir.File("scores/cat/a.csv"));
  absl::Status missing = ReadCorpusScores(*corpus, dir.File("scores")).status();
  EXPECT_TRUE(absl::IsNotFound(missing));
  EXPECT_THAT(missing.message(), HasSubstr("no score file for cat/a.csv"));
}

TEST(NabEvaluation, WrittenResultsScoreTheSameWhenReadBack) {
  TempDir dir;
  WriteCorpus(dir.File("corpus"), {{"cat/a.csv", 60, {{30, 35}}}, {"dog/b.csv", 60, {{40, 41}}}});
  absl::StatusOr<NabCorpus> corpus = LoadNabCorpus(dir.File("corpus"));
  ASSERT_TRUE(corpus.ok());
  CorpusScores scores = {std::vector<double>(60, 0.0), std::vector<double>(60, 0.0)};
  scores[0][31] = 0.7;
  scores[0][50] = 0.4;
  scores[1][20] = 0.9;
  absl::StatusOr<std::vector<NabProfileScore>> first = ScoreAllProfiles(*corpus, scores);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(WriteNabResults(dir.File("results"), *corpus, scores, *first).ok());

  absl::StatusOr<CorpusScores> back = ReadCorpusScores(*corpus, dir.File("results"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, scores);
  absl::StatusOr<std::string> summary = ReadFile(dir.File("results/summary.csv"));
  ASSERT_TRUE(summary.ok());
  EXPECT_THAT(*summary, HasSubstr("profile,file,threshold,windows,tp,fn,fp_rows,raw\n"));
  EXPECT_THAT(*summary, HasSubstr("standard,cat/a.csv,0.7,1,1,0,0,"));
  EXPECT_THAT(*summary, HasSubstr("standard,dog/b.csv,0.7,1,0,1,1,-1.11\n"));
  absl::StatusOr<std::string> rows = ReadFile(dir.File("results/cat/a.csv"));
  EXPECT_THAT(*rows, HasSubstr("timestamp,value,anomaly_score,label\n"));
  EXPECT_THAT(*rows, HasSubstr(shadowfleet::testing::RowTime(31) + ",31,0.7,1\n"));
  nlohmann::json report = NabReportJson(*corpus, *first);
  EXPECT_TRUE(report["standard"].is_number());
  EXPECT_EQ(report["corpus"]["windows"], 2);
}

}  // namespace
}  // namespace shadowfleet

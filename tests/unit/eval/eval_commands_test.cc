// The `detect` and `eval nab` commands end to end through the command line: output files,
// JSON fields, and exit code 2 with file and line for bad input.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_corpus.h"
#include "testing/temp_dir.h"
#include <nlohmann/json.hpp>

#include "shadowfleet/cli/cli.h"
#include "shadowfleet/common/files.h"
#include "shadowfleet/eval/series.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::TempDir;
using ::shadowfleet::testing::WriteCorpus;
using ::shadowfleet::testing::WriteText;
using ::testing::HasSubstr;

int RunCommand(std::vector<std::string> args) {
  args.insert(args.begin(), "shadowfleet");
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  return RunCli(static_cast<int>(argv.size()), argv.data());
}

TEST(DetectCommand, WritesEveryRowWithItsScore) {
  TempDir dir;
  std::string csv = "timestamp,value\n";
  for (int i = 0; i < 2000; ++i) {
    absl::StrAppend(&csv, shadowfleet::testing::RowTime(i), ",", i == 1900 ? 1000 : i % 10, "\n");
  }
  WriteText(dir.File("in.csv"), csv);
  ::testing::internal::CaptureStdout();
  int code = RunCommand(
      {"detect", "--input", dir.File("in.csv"), "--output", dir.File("out.csv"), "-o", "json"});
  std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_EQ(code, 0);
  nlohmann::json summary = nlohmann::json::parse(out);
  EXPECT_EQ(summary["rows"], 2000);
  EXPECT_EQ(summary["alerts"], 1);

  absl::StatusOr<Series> in = ReadSeries(dir.File("in.csv"));
  ASSERT_TRUE(in.ok());
  absl::StatusOr<std::vector<double>> scores = ReadScores(dir.File("out.csv"), *in);
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_EQ((*scores)[1899], 0.0);
  EXPECT_GT((*scores)[1900], 0.9);
}

TEST(DetectCommand, MalformedRowExitsWithTwoNamingFileAndLine) {
  TempDir dir;
  WriteText(dir.File("in.csv"), "timestamp,value\n2015-01-01 00:00:00,1\n2015-01-01 00:01,2,3\n");
  ::testing::internal::CaptureStderr();
  int code = RunCommand({"detect", "--input", dir.File("in.csv"), "--output", dir.File("out.csv")});
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, kExitUsage);
  EXPECT_THAT(err, HasSubstr(dir.File("in.csv") + ":3: expected 2 fields"));
  EXPECT_FALSE(ReadFile(dir.File("out.csv")).ok());

  ::testing::internal::CaptureStderr();
  code =
      RunCommand({"detect", "--input", dir.File("missing.csv"), "--output", dir.File("out.csv")});
  ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, kExitUsage);
}

TEST(EvalNabCommand, PrintsTheThreeProfilesUnderStableNames) {
  TempDir dir;
  WriteCorpus(dir.File("corpus"), {{"anyCategory/a.csv", 100, {{60, 65}}}});
  std::string scores = "timestamp,anomaly_score\n";
  for (int i = 0; i < 100; ++i) {
    absl::StrAppend(&scores, shadowfleet::testing::RowTime(i), ",", i == 60 ? 0.9 : 0.1, "\n");
  }
  WriteText(dir.File("scores/anyCategory/a.csv"), scores);

  ::testing::internal::CaptureStdout();
  int code = RunCommand({"eval", "nab", "--data", dir.File("corpus"), "--scores",
                         dir.File("scores"), "--results-dir", dir.File("results"), "-o", "json"});
  std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_EQ(code, 0) << out;
  nlohmann::json r = nlohmann::json::parse(out);
  EXPECT_DOUBLE_EQ(r["standard"].get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(r["reward_low_FP_rate"].get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(r["reward_low_FN_rate"].get<double>(), 100.0);
  EXPECT_EQ(r["profiles"]["standard"]["threshold"], 0.9);
  EXPECT_TRUE(ReadFile(dir.File("results/summary.csv")).ok());
  EXPECT_TRUE(ReadFile(dir.File("results/anyCategory/a.csv")).ok());
}

TEST(EvalNabCommand, RunsTheBuiltInDetectorAndPrintsATable) {
  TempDir dir;
  WriteCorpus(dir.File("corpus"), {{"c/a.csv", 300, {{280, 290}}}});
  ::testing::internal::CaptureStdout();
  int code = RunCommand({"eval", "nab", "--data", dir.File("corpus")});
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(code, 0);
  EXPECT_THAT(out, HasSubstr("1 files, 300 rows, 1 windows; detector: novel-bin"));
  EXPECT_THAT(out, HasSubstr("reward_low_FN_rate"));
}

TEST(EvalNabCommand, BadCorpusExitsWithTwo) {
  TempDir dir;
  WriteCorpus(dir.File("corpus"), {{"c/a.csv", 30, {}}});
  WriteText(dir.File("corpus/labels/combined_windows.json"), "{\"c/a.csv\": [}");
  ::testing::internal::CaptureStderr();
  int code = RunCommand({"eval", "nab", "--data", dir.File("corpus")});
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, kExitUsage);
  EXPECT_THAT(err, HasSubstr("combined_windows.json:1: malformed JSON"));
}

}  // namespace
}  // namespace shadowfleet

// Series files and score files: values, missing values, malformed rows reported with file and
// line, score files checked row by row against their series, and writing scores back exactly.
#include "shadowfleet/eval/series.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "test_corpus.h"
#include "testing/temp_dir.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::TempDir;
using ::shadowfleet::testing::WriteText;
using ::testing::HasSubstr;

TEST(ReadSeries, ReadsTimesValuesAndMissingValues) {
  TempDir dir;
  WriteText(dir.File("s.csv"),
            "timestamp,value,host\n2015-01-01 00:00:00,1.5,a\n2015-01-01 00:01:00,,b\n"
            "1420070520,nan,c\n");
  absl::StatusOr<Series> s = ReadSeries(dir.File("s.csv"));
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->size(), 3u);
  EXPECT_EQ(s->times[0], 1420070400.0);
  EXPECT_EQ(s->times[2], 1420070520.0);
  EXPECT_EQ(s->values[0], 1.5);
  EXPECT_TRUE(std::isnan(s->values[1]));
  EXPECT_TRUE(std::isnan(s->values[2]));
  EXPECT_EQ(s->lines[1], "2015-01-01 00:01:00,,b");
  EXPECT_EQ(s->line_numbers[2], 4);
}

TEST(ReadSeries, NamesFileLineAndFaultOfAMalformedRow) {
  TempDir dir;
  WriteText(dir.File("bad.csv"),
            "timestamp,value\n2015-01-01 00:00:00,1\n2015-01-01 00:01:00,"
            "12abc\n");
  absl::Status s = ReadSeries(dir.File("bad.csv")).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(s.message(),
              HasSubstr(dir.File("bad.csv") + ":3: value \"12abc\" is not a finite number"));

  WriteText(dir.File("time.csv"), "timestamp,value\n2015-13-01 00:00:00,1\n");
  EXPECT_THAT(ReadSeries(dir.File("time.csv")).status().message(),
              HasSubstr(":2: timestamp \"2015-13-01 00:00:00\" is not a valid calendar"));

  WriteText(dir.File("inf.csv"), "timestamp,value\n1,inf\n");
  EXPECT_THAT(ReadSeries(dir.File("inf.csv")).status().message(),
              HasSubstr(":2: value \"inf\" is not a finite number"));

  WriteText(dir.File("cols.csv"), "time,value\n1,2\n");
  EXPECT_THAT(ReadSeries(dir.File("cols.csv")).status().message(),
              HasSubstr(":1: no column \"timestamp\""));
}

TEST(ReadScores, ReadsTheScoreColumnAndCountsMissingScoresAsZero) {
  TempDir dir;
  WriteText(dir.File("s.csv"), "timestamp,value\n1,10\n2,20\n3,30\n");
  WriteText(dir.File("scores.csv"), "timestamp,value,anomaly_score\n1,10,0.5\n2,20,\n3,30,1\n");
  absl::StatusOr<Series> s = ReadSeries(dir.File("s.csv"));
  ASSERT_TRUE(s.ok());
  absl::StatusOr<std::vector<double>> scores = ReadScores(dir.File("scores.csv"), *s);
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_EQ(*scores, (std::vector<double>{0.5, 0.0, 1.0}));
}

TEST(ReadScores, RejectsScoresThatDoNotLineUpWithTheSeries) {
  TempDir dir;
  WriteText(dir.File("s.csv"), "timestamp,value\n1,10\n2,20\n");
  absl::StatusOr<Series> s = ReadSeries(dir.File("s.csv"));
  ASSERT_TRUE(s.ok());

  WriteText(dir.File("short.csv"), "timestamp,anomaly_score\n1,0\n");
  EXPECT_THAT(ReadScores(dir.File("short.csv"), *s).status().message(),
              HasSubstr("has 1 rows but"));
  WriteText(dir.File("moved.csv"), "timestamp,anomaly_score\n1,0\n3,0\n");
  EXPECT_THAT(ReadScores(dir.File("moved.csv"), *s).status().message(),
              HasSubstr("moved.csv:3: timestamp \"3\" differs from row 2"));
  WriteText(dir.File("word.csv"), "timestamp,anomaly_score\n1,0\n2,high\n");
  EXPECT_THAT(ReadScores(dir.File("word.csv"), *s).status().message(),
              HasSubstr("word.csv:3: anomaly_score \"high\" is not a finite number"));
}

TEST(WriteSeriesWithColumns, AppendsColumnsToTheOriginalTextExactly) {
  TempDir dir;
  WriteText(dir.File("s.csv"), "timestamp,value\n2015-01-01 00:00:00, 7\n1420070460,8\n");
  absl::StatusOr<Series> s = ReadSeries(dir.File("s.csv"));
  ASSERT_TRUE(s.ok());
  std::vector<double> scores = {0.1 + 0.2, 0.0};
  std::string text = WriteSeriesWithColumns(*s, {{"anomaly_score", &scores}});
  EXPECT_EQ(text,
            "timestamp,value,anomaly_score\n2015-01-01 00:00:00, 7,0.30000000000000004\n"
            "1420070460,8,0\n");
  WriteText(dir.File("out.csv"), text);
  absl::StatusOr<std::vector<double>> back = ReadScores(dir.File("out.csv"), *s);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, scores);
}

}  // namespace
}  // namespace shadowfleet

// CSV reading and timestamp parsing: what is accepted, and that every rejection names the file,
// the line and the fault.
#include "shadowfleet/eval/csv.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "shadowfleet/eval/timestamp.h"

namespace shadowfleet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseCsv, ReadsHeaderRowsQuotesAndLineEndings) {
  absl::StatusOr<CsvTable> t = ParseCsv(
      "a.csv", "timestamp, value\r\n\n2015-01-01 00:00:00, 1.5\r\n\"x, \"\"y\"\"\",2\n   \n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->header.fields, ElementsAre("timestamp", "value"));
  ASSERT_EQ(t->records.size(), 2u);
  EXPECT_THAT(t->records[0].fields, ElementsAre("2015-01-01 00:00:00", "1.5"));
  EXPECT_EQ(t->records[0].line, 3);
  EXPECT_EQ(t->records[0].text, "2015-01-01 00:00:00, 1.5");
  EXPECT_THAT(t->records[1].fields, ElementsAre("x, \"y\"", "2"));
  EXPECT_EQ(t->records[1].line, 4);
}

TEST(ParseCsv, RejectsAWrongFieldCountWithFileAndLine) {
  absl::StatusOr<CsvTable> t = ParseCsv("data/x.csv", "timestamp,value\n1,2\n3\n");
  EXPECT_TRUE(absl::IsInvalidArgument(t.status()));
  EXPECT_THAT(t.status().message(), HasSubstr("data/x.csv:3: expected 2 fields"));
  EXPECT_THAT(t.status().message(), HasSubstr("found 1"));
}

TEST(ParseCsv, RejectsAnUnterminatedQuote) {
  absl::StatusOr<CsvTable> t = ParseCsv("q.csv", "a,b\n\"open,2\n");
  EXPECT_THAT(t.status().message(), HasSubstr("q.csv:2: unterminated quoted field"));
  t = ParseCsv("q.csv", "a,b\n\"closed\"x,2\n");
  EXPECT_THAT(t.status().message(), HasSubstr("q.csv:2: unexpected text after the closing"));
}

TEST(ParseCsv, RejectsAnEmptyFile) {
  absl::StatusOr<CsvTable> t = ParseCsv("empty.csv", "\n\n");
  EXPECT_THAT(t.status().message(), HasSubstr("empty.csv:1: empty file"));
}

TEST(CsvTable, FindsColumnsIgnoringCaseAndNamesTheColumnsWhenOneIsMissing) {
  absl::StatusOr<CsvTable> t = ParseCsv("c.csv", "Timestamp,Value\n1,2\n");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->Column("value").value(), 1u);
  absl::StatusOr<size_t> missing = t->Column("anomaly_score");
  EXPECT_THAT(missing.status().message(),
              HasSubstr("c.csv:1: no column \"anomaly_score\" in the header (columns: "
                        "Timestamp, Value)"));
}

TEST(ReadCsv, ReportsAMissingFileAsNotFound) {
  EXPECT_TRUE(absl::IsNotFound(ReadCsv("/nonexistent/dir/file.csv").status()));
}

TEST(CsvQuote, QuotesOnlyWhenNeededAndRoundTrips) {
  EXPECT_EQ(CsvQuote("plain"), "plain");
  EXPECT_EQ(CsvQuote("a,b"), "\"a,b\"");
  std::string quoted = CsvQuote("say \"hi\"");
  absl::StatusOr<CsvTable> t = ParseCsv("r.csv", "h\n" + quoted + "\n");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->records[0].fields[0], "say \"hi\"");
}

TEST(ParseTimestamp, ReadsNabTimestampsAsUtc) {
  EXPECT_EQ(ParseTimestamp("2015-02-26 21:42:53").value(), 1424986973.0);
  EXPECT_EQ(ParseTimestamp("2015-02-26 21:42:53.000000").value(), 1424986973.0);
  EXPECT_EQ(ParseTimestamp(" 1970-01-01 00:00:00 ").value(), 0.0);
}

TEST(ParseTimestamp, ReadsIso8601WithZonesAndFractions) {
  EXPECT_EQ(ParseTimestamp("2015-02-26T21:42:53Z").value(), 1424986973.0);
  EXPECT_EQ(ParseTimestamp("2015-02-26T21:42:53").value(), 1424986973.0);
  EXPECT_EQ(ParseTimestamp("2015-02-26T22:42:53+01:00").value(), 1424986973.0);
  EXPECT_EQ(ParseTimestamp("2015-02-26T16:12:53-0530").value(), 1424986973.0);
  EXPECT_EQ(ParseTimestamp("2015-02-26T21:42:53.25Z").value(), 1424986973.25);
  EXPECT_EQ(ParseTimestamp("2015-02-26T21:42Z").value(), 1424986920.0);
  EXPECT_EQ(ParseTimestamp("2015-02-26").value(), 1424908800.0);
}

TEST(ParseTimestamp, ReadsUnixSeconds) {
  EXPECT_EQ(ParseTimestamp("1424986973").value(), 1424986973.0);
  EXPECT_EQ(ParseTimestamp("1424986973.5").value(), 1424986973.5);
  EXPECT_EQ(ParseTimestamp("-60").value(), -60.0);
}

TEST(ParseTimestamp, SaysWhatIsWrong) {
  EXPECT_THAT(ParseTimestamp("2015-02-30 00:00:00").status().message(),
              HasSubstr("is not a valid calendar date and time"));
  EXPECT_THAT(ParseTimestamp("2015-02-26 25:00:00").status().message(),
              HasSubstr("is not a valid calendar date and time"));
  EXPECT_THAT(ParseTimestamp("2015-02-26 21:42:53 PST").status().message(),
              HasSubstr("unexpected text after the date and time"));
  EXPECT_THAT(ParseTimestamp("2015-02-26T21").status().message(), HasSubstr("has no time hh:mm"));
  EXPECT_THAT(ParseTimestamp("yesterday").status().message(),
              HasSubstr("is neither a date and time"));
  EXPECT_THAT(ParseTimestamp("nan").status().message(), HasSubstr("is neither"));
  EXPECT_THAT(ParseTimestamp("").status().message(), HasSubstr("empty timestamp"));
}

}  // namespace
}  // namespace shadowfleet

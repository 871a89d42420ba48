// The exposition-format parser: every valid form of a sample line, and a clear reason for
// every invalid one, without losing the lines around it.
#include "shadowfleet/telemetry/exposition_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace shadowfleet {
namespace {

struct Parsed {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;
  double value;
  std::optional<int64_t> timestamp;
};

std::pair<std::vector<Parsed>, std::vector<ParseProblem>> ParseAll(std::string_view text,
                                                                   ExpositionParser* parser) {
  std::vector<Parsed> samples;
  std::vector<ParseProblem> problems;
  parser->Parse(
      text,
      [&](const SampleView& s) {
        Parsed p{std::string(s.name), {}, s.value, s.timestamp_ms};
        for (const LabelView& l : *s.labels) {
          p.labels.emplace_back(std::string(l.name), UnescapeLabelValue(l.value));
        }
        samples.push_back(std::move(p));
      },
      [&](const ParseProblem& p) { problems.push_back(p); });
  return {samples, problems};
}

TEST(ExpositionParser, ReadsNodeExporterStyleText) {
  ExpositionParser parser;
  auto [samples, problems] = ParseAll(R"(# HELP node_cpu_seconds_total Seconds the CPUs spent.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 12345.67
node_cpu_seconds_total{mode="user",cpu="0"} 89.5
# TYPE node_memory_MemAvailable_bytes gauge
node_memory_MemAvailable_bytes 2.5e+09
http_requests_total{code="500",path="/a \"b\"\\c\nd"} 7 1700000000123
)",
                                      &parser);
  EXPECT_TRUE(problems.empty());
  ASSERT_EQ(samples.size(), 4u);
  EXPECT_EQ(samples[0].name, "node_cpu_seconds_total");
  EXPECT_DOUBLE_EQ(samples[0].value, 12345.67);
  // Labels come out sorted by name whatever their order in the text.
  EXPECT_EQ(samples[1].labels[0].first, "cpu");
  EXPECT_EQ(samples[1].labels[1].second, "user");
  EXPECT_DOUBLE_EQ(samples[2].value, 2.5e9);
  EXPECT_EQ(samples[3].labels[1].second, "/a \"b\"\\c\nd");
  EXPECT_EQ(samples[3].timestamp, 1700000000123);
  EXPECT_EQ(parser.TypeOf("node_cpu_seconds_total"), MetricType::kCounter);
  EXPECT_EQ(parser.TypeOf("node_memory_MemAvailable_bytes"), MetricType::kGauge);
  EXPECT_EQ(parser.TypeOf("http_requests_total"), MetricType::kUntyped);
}

TEST(ExpositionParser, AcceptsSpecialValuesAndEmptyLabelSets) {
  ExpositionParser parser;
  auto [samples, problems] =
      ParseAll("a NaN\nb +Inf\nc -Inf\nd{} 1\ne{x=\"1\",} 2\n\n   \nf\t3\n", &parser);
  EXPECT_TRUE(problems.empty());
  ASSERT_EQ(samples.size(), 6u);
  EXPECT_TRUE(std::isnan(samples[0].value));
  EXPECT_TRUE(std::isinf(samples[1].value) && samples[1].value > 0);
  EXPECT_TRUE(std::isinf(samples[2].value) && samples[2].value < 0);
  EXPECT_EQ(samples[4].labels.size(), 1u);
  EXPECT_DOUBLE_EQ(samples[5].value, 3);
}

TEST(ExpositionParser, ReportsEachBadLineWithItsNumberAndKeepsTheRest) {
  ExpositionParser parser;
  auto [samples, problems] = ParseAll(
      "good 1\n"
      "9bad 1\n"
      "no_value\n"
      "bad_value{a=\"1\"} twelve\n"
      "bad_label{a=1} 1\n"
      "unterminated{a=\"1} 1\n"
      "bad_ts 1 12.5\n"
      "also_good{a=\"x\"} 2\n",
      &parser);
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[1].name, "also_good");
  ASSERT_EQ(problems.size(), 6u);
  EXPECT_EQ(problems[0].line, 2);
  EXPECT_THAT(problems[0].reason, ::testing::HasSubstr("metric name"));
  EXPECT_EQ(problems[1].line, 3);
  EXPECT_THAT(problems[2].reason, ::testing::HasSubstr("\"twelve\" is not a number"));
  EXPECT_THAT(problems[3].reason, ::testing::HasSubstr("label a"));
  EXPECT_THAT(problems[4].reason, ::testing::HasSubstr("unterminated"));
  EXPECT_THAT(problems[5].reason, ::testing::HasSubstr("timestamp"));
}

}  // namespace
}  // namespace shadowfleet

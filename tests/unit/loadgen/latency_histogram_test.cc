// Percentiles from the fixed-size histogram stay within its stated precision.
#include "shadowfleet/loadgen/latency_histogram.h"

#include <gtest/gtest.h>

namespace shadowfleet {
namespace {

TEST(LatencyHistogram, IsExactBelowSixtyFourMicroseconds) {
  LatencyHistogram histogram;
  for (int i = 1; i <= 50; ++i) {
    histogram.Record(absl::Microseconds(i));
  }
  EXPECT_EQ(histogram.Percentile(50), absl::Microseconds(25));
  EXPECT_EQ(histogram.Percentile(100), absl::Microseconds(50));
  EXPECT_EQ(histogram.max(), absl::Microseconds(50));
}

TEST(LatencyHistogram, PercentilesAreWithinThreePercent) {
  LatencyHistogram histogram;
  for (int i = 1; i <= 10000; ++i) {
    histogram.Record(absl::Microseconds(i * 100));  // 0.1 ms .. 1 s
  }
  EXPECT_EQ(histogram.count(), 10000);
  for (double p : {50.0, 90.0, 99.0}) {
    double expected = p / 100 * 10000 * 100;
    double actual = absl::ToDoubleMicroseconds(histogram.Percentile(p));
    EXPECT_NEAR(actual, expected, expected * 0.03) << "p" << p;
    EXPECT_GE(actual, expected) << "p" << p;
  }
  EXPECT_EQ(histogram.max(), absl::Seconds(1));
}

TEST(LatencyHistogram, MergesAndHandlesExtremes) {
  LatencyHistogram a;
  LatencyHistogram b;
  EXPECT_EQ(a.Percentile(99), absl::ZeroDuration());
  a.Record(absl::Milliseconds(1));
  b.Record(absl::Hours(24 * 365 * 10));  // Beyond the last bucket: clamped, not lost.
  b.Record(-absl::Seconds(1));           // A clock step backwards counts as zero.
  a.Merge(b);
  EXPECT_EQ(a.count(), 3);
  EXPECT_EQ(a.Percentile(0), absl::ZeroDuration());
  EXPECT_EQ(a.max(), absl::Hours(24 * 365 * 10));
}

}  // namespace
}  // namespace shadowfleet

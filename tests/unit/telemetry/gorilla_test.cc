// Gorilla compression: exact round trips for every kind of timestamp and value sequence, and
// the compactness that makes in-memory history affordable.
#include "shadowfleet/telemetry/gorilla.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "shadowfleet/telemetry/series_history.h"

namespace shadowfleet {
namespace {

std::vector<TimedValue> RoundTrip(const std::vector<TimedValue>& samples) {
  GorillaEncoder encoder;
  for (const TimedValue& s : samples) {
    encoder.Append(s.timestamp_ms, s.value);
  }
  std::vector<TimedValue> decoded;
  EXPECT_TRUE(DecodeGorilla(encoder.Serialize(), &decoded));
  return decoded;
}

void ExpectSame(const std::vector<TimedValue>& a, const std::vector<TimedValue>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].timestamp_ms, b[i].timestamp_ms) << i;
    // Bit-exact, including the sign of zero.
    EXPECT_EQ(std::signbit(a[i].value), std::signbit(b[i].value)) << i;
    EXPECT_EQ(a[i].value, b[i].value) << i;
  }
}

TEST(Gorilla, RoundTripsEveryTimestampBucketAndValueShape) {
  std::mt19937_64 rng(7);
  std::vector<TimedValue> samples;
  int64_t t = 1'700'000'000'000;
  double v = 100;
  // Deltas that hit every bucket: regular, jittered, bigger jumps, huge gaps, backwards jitter.
  std::vector<int64_t> deltas = {5000,       5000, 5003, 4990, 5200, 6000,      30'000,
                                 86'400'000, 1,    5000, 0,    5000, -1 + 5000, 123'456'789};
  for (int64_t d : deltas) {
    t += d;
    samples.push_back({t, v});
  }
  // Values: repeats, small changes, sign flips, zero, negative zero, huge and tiny magnitudes.
  for (double x : {100.0, 100.0, 100.5, -100.5, 0.0, -0.0, 1e300, 1e-300, 42.0, 42.000001}) {
    t += 5000;
    samples.push_back({t, x});
  }
  for (int i = 0; i < 1000; ++i) {
    t += 5000 + static_cast<int64_t>(rng() % 7) - 3;
    samples.push_back({t, std::uniform_real_distribution<double>(-1e6, 1e6)(rng)});
  }
  ExpectSame(RoundTrip(samples), samples);
}

TEST(Gorilla, RegularSlowlyChangingSeriesTakeAboutTwoBytesASample) {
  GorillaEncoder encoder;
  int64_t t = 1'700'000'000'000;
  double counter = 0;
  for (int i = 0; i < 1000; ++i) {
    t += 5000;
    counter += 3;  // A counter going up by a steady amount.
    encoder.Append(t, counter);
  }
  EXPECT_LT(static_cast<double>(encoder.size_bytes()) / 1000, 2.5);
}

TEST(Gorilla, MalformedBlocksAreRejectedNotTrusted) {
  GorillaEncoder encoder;
  for (int i = 0; i < 50; ++i) {
    encoder.Append(1000 * i, i * 1.5);
  }
  std::string block = encoder.Serialize();
  std::vector<TimedValue> out;
  EXPECT_FALSE(DecodeGorilla(block.substr(0, 5), &out));
  EXPECT_FALSE(DecodeGorilla(block.substr(0, block.size() / 2), &out));
}

TEST(SeriesHistory, KeepsABoundedRecentWindowAndHandsOutClosedBlocks) {
  SeriesHistory history(/*max_samples=*/300, /*block_samples=*/100);
  int closed = 0;
  for (int i = 0; i < 1000; ++i) {
    if (history.Append(1000 * i, i)) {
      closed++;
    }
  }
  EXPECT_EQ(closed, 10);
  std::vector<TimedValue> held = history.Read();
  EXPECT_LE(held.size(), 300u);
  EXPECT_GE(held.size(), 200u);
  EXPECT_EQ(held.back().value, 999);
  for (size_t i = 1; i < held.size(); ++i) {
    EXPECT_EQ(held[i].timestamp_ms - held[i - 1].timestamp_ms, 1000);
  }
}

}  // namespace
}  // namespace shadowfleet

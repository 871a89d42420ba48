// A fixed-size latency histogram with about 3 % relative precision from 1 µs to days, for
// percentiles over runs of any length without keeping every sample.
//
//   LatencyHistogram h;
//   h.Record(absl::Microseconds(850));
//   absl::Duration p99 = h.Percentile(99);
#pragma once

#include <array>
#include <cstdint>

#include "absl/time/time.h"

namespace shadowfleet {

// Not thread-safe: the owner serialises access.
class LatencyHistogram {
 public:
  void Record(absl::Duration latency);
  void Merge(const LatencyHistogram& other);

  int64_t count() const { return count_; }
  absl::Duration max() const { return absl::Microseconds(max_micros_); }

  // The latency below which `percent` (0..100) of the samples fall, within the bucket
  // precision (never above max()). Zero when empty.
  absl::Duration Percentile(double percent) const;

 private:
  // Buckets of 32 sub-buckets per power of two: index i < 64 holds exactly i µs; above, the
  // width doubles every 32 buckets. 64 + 32 * 40 buckets reach past 2^45 µs (a year).
  static constexpr int kSubBuckets = 32;
  static constexpr int kBuckets = 2 * kSubBuckets + kSubBuckets * 40;

  static int BucketOf(int64_t micros);
  static int64_t UpperBoundOf(int bucket);

  std::array<int64_t, kBuckets> counts_{};
  int64_t count_ = 0;
  int64_t max_micros_ = 0;
};

}  // namespace shadowfleet

#include "shadowfleet/loadgen/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace shadowfleet {

int LatencyHistogram::BucketOf(int64_t micros) {
  auto value = static_cast<uint64_t>(std::max<int64_t>(micros, 0));
  int shift = std::max(0, static_cast<int>(std::bit_width(value)) - 6);
  int bucket = shift * kSubBuckets + static_cast<int>(value >> shift);
  return std::min(bucket, kBuckets - 1);
}

int64_t LatencyHistogram::UpperBoundOf(int bucket) {
  if (bucket < 2 * kSubBuckets) {
    return bucket;
  }
  int shift = bucket / kSubBuckets - 1;
  int64_t mantissa = bucket - shift * kSubBuckets;
  return ((mantissa + 1) << shift) - 1;
}

void LatencyHistogram::Record(absl::Duration latency) {
  int64_t micros = std::max<int64_t>(absl::ToInt64Microseconds(latency), 0);
  counts_[BucketOf(micros)]++;
  count_++;
  max_micros_ = std::max(max_micros_, micros);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kBuckets; ++i) {
    counts_[i] += other.counts_[i];
  }
  count_ += other.count_;
  max_micros_ = std::max(max_micros_, other.max_micros_);
}

absl::Duration LatencyHistogram::Percentile(double percent) const {
  if (count_ == 0) {
    return absl::ZeroDuration();
  }
  double clamped = std::clamp(percent, 0.0, 100.0);
  auto rank = std::max<int64_t>(
      1, static_cast<int64_t>(std::ceil(clamped / 100.0 * static_cast<double>(count_))));
  int64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      return absl::Microseconds(std::min(UpperBoundOf(i), max_micros_));
    }
  }
  return max();
}

}  // namespace shadowfleet

#include "shadowfleet/prediction/anomaly_detector.h"

#include <algorithm>
#include <cmath>

namespace shadowfleet {
namespace {

// The one configuration, tuned on the NAB corpus and used for every series.
constexpr double kDecileFraction = 0.10;       // Scale from the q10..q90 range of the warm-up.
constexpr double kScales[] = {2.0, 3.0, 4.0};  // Ensemble: asinh scale = factor * range.
constexpr double kValueBinsPerRange = 10;      // Value channel: warm-up range / 10 = bin width.
constexpr double kHourlyBinsPerRange = 5;      // Time-of-day channel: coarser bins.
constexpr double kValueLevel = 1.0;            // Highest score of a value-channel novelty.
constexpr double kHourlyLevel = 0.3;           // Highest score of a time-of-day novelty.
constexpr double kNewCellDiscount = 100;       // score = level / (1 + discount * P(new cell)).
constexpr double kSmoothing = 1.0;             // P(new cell) = (seen once + 1) / (observed + 1).
constexpr double kTimeOfDayDelay = 86400;      // Time-of-day cells score after a day of data.
constexpr int64_t kRefractoryRows = 100;
constexpr double kRefractoryMargin = 0.1;  // A later score in the refractory must beat this.
constexpr double kSecondsPerDay = 86400;
constexpr int kBinMin = -64;  // Bin indices relative to the grid origin are clamped to
constexpr int kBinMax = 191;  // [kBinMin, kBinMax]: 256 bins, the edge ones shared.

// Bin of compressed value `y` on the grid starting at `origin` with width `width`, 0..255.
int Bin(double y, double origin, double width) {
  double b = std::floor((y - origin) / width);
  if (!(b > kBinMin)) {  // Also catches NaN, which only overflowing inputs can produce.
    b = kBinMin;
  } else if (b > kBinMax) {
    b = kBinMax;
  }
  return static_cast<int>(b) - kBinMin;
}

// The 2-hour bucket of the day `unix_seconds` falls in, 0..11. Times before 1970 wrap like
// positive ones (the remainder is taken towards minus infinity).
int HourBucket(double unix_seconds, int buckets) {
  double r = std::fmod(unix_seconds, kSecondsPerDay);
  if (r < 0) {
    r += kSecondsPerDay;
  }
  int bucket = static_cast<int>(r * buckets / kSecondsPerDay);
  return std::min(bucket, buckets - 1);
}

double NewCellScore(double level, int32_t seen_once, int64_t observed) {
  double p_new = (seen_once + kSmoothing) / (static_cast<double>(observed) + kSmoothing);
  return level / (1.0 + kNewCellDiscount * p_new);
}

}  // namespace

std::unique_ptr<AnomalyDetector> NewAnomalyDetector() {
  return std::make_unique<NovelBinDetector>();
}

template <int kCells>
int NovelBinDetector::CellStates<kCells>::Visit(int i, int32_t& seen_once) {
  uint8_t& byte = packed_[static_cast<size_t>(i) >> 2];
  int shift = (i & 3) * 2;
  int state = (byte >> shift) & 3;
  if (state == 0) {
    ++seen_once;
  } else if (state == 1) {
    --seen_once;
  } else {
    return state;
  }
  byte = static_cast<uint8_t>(byte + (1 << shift));
  return state;
}

double NovelBinDetector::Update(double value, double unix_seconds) {
  if (!std::isfinite(value) || !std::isfinite(unix_seconds)) {
    return Refractory(0.0);
  }
  if (!has_first_time_) {
    has_first_time_ = true;
    first_time_ = unix_seconds;
  }
  int hour_bucket = HourBucket(unix_seconds, kHourBuckets);

  if (!warmed_up_) {
    warmup_->values[warmup_->size] = value;
    warmup_->hour_buckets[warmup_->size] = static_cast<uint8_t>(hour_bucket);
    if (++warmup_->size == kWarmupSamples) {
      FinishWarmup();
    }
    return Refractory(0.0);
  }
  Scoring scoring = unix_seconds - first_time_ >= kTimeOfDayDelay ? Scoring::kValueAndTimeOfDay
                                                                  : Scoring::kValueOnly;
  return Refractory(Observe(value, hour_bucket, scoring));
}

void NovelBinDetector::FinishWarmup() {
  std::array<double, kWarmupSamples> sorted = warmup_->values;
  std::sort(sorted.begin(), sorted.end());
  constexpr int n = kWarmupSamples;
  centre_ = sorted[n / 2];
  // Index arithmetic in double, truncated, exactly as the prototype did it.
  double range = sorted[static_cast<int>((1.0 - kDecileFraction) * (n - 1))] -
                 sorted[static_cast<int>(kDecileFraction * (n - 1))];

  // A series with no spread in its deciles falls back to its full range, and a constant one to
  // a scale relative to its level, which makes any later change of level novel.
  for (int j = 0; j < kMembers; ++j) {
    Member& m = members_[j];
    m.scale = kScales[j] * range;
    if (m.scale <= 0) {
      m.scale = kScales[j] * (sorted[n - 1] - sorted[0]);
    }
    if (m.scale <= 0) {
      m.scale = std::abs(centre_) * 0.01 + 1e-6;
    }
    double lo = std::asinh((sorted[0] - centre_) / m.scale);
    double hi = lo;
    for (double v : sorted) {
      double y = std::asinh((v - centre_) / m.scale);
      lo = std::min(lo, y);
      hi = std::max(hi, y);
    }
    double span = hi > lo ? hi - lo : 1e-3;
    m.origin = lo;
    m.value_width = span / kValueBinsPerRange;
    m.hourly_width = span / kHourlyBinsPerRange;
  }

  // Replay the warm-up in arrival order so the cells and counters start from it.
  warmed_up_ = true;
  for (int i = 0; i < n; ++i) {
    Observe(warmup_->values[i], warmup_->hour_buckets[i], Scoring::kLearnOnly);
  }
  warmup_.reset();
}

double NovelBinDetector::Observe(double value, int hour_bucket, Scoring scoring) {
  double total = 0.0;
  for (Member& m : members_) {
    double y = std::asinh((value - centre_) / m.scale);
    double score = 0.0;
    int bin = Bin(y, m.origin, m.value_width);
    if (m.value_cells.Visit(bin, m.value_seen_once) == 0 && scoring != Scoring::kLearnOnly) {
      // Visit() has already counted the new cell; the probability uses the count before it.
      score = NewCellScore(kValueLevel, m.value_seen_once - 1, observed_);
    }
    int cell = hour_bucket * kBins + Bin(y, m.origin, m.hourly_width);
    if (m.hourly_cells.Visit(cell, m.hourly_seen_once) == 0 &&
        scoring == Scoring::kValueAndTimeOfDay) {
      score = std::max(score, NewCellScore(kHourlyLevel, m.hourly_seen_once - 1, observed_));
    }
    total += score;
  }
  ++observed_;
  return total / kMembers;
}

// Peak hold: for kRefractoryRows rows after an emitted score only a clearly higher one passes.
double NovelBinDetector::Refractory(double score) {
  int64_t row = row_++;
  if (row - last_alert_row_ < kRefractoryRows && score <= last_alert_score_ + kRefractoryMargin) {
    return 0.0;
  }
  if (score > 0.0) {
    last_alert_row_ = row;
    last_alert_score_ = score;
  }
  return score;
}

size_t NovelBinDetector::StateBytes() const {
  return sizeof(*this) + (warmup_ != nullptr ? sizeof(Warmup) : 0);
}

}  // namespace shadowfleet

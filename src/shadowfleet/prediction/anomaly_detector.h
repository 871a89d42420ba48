// Online anomaly detection for one metric series of one instance (CPU, latency, queue length):
// every sample is scored as it arrives, from what the series has shown before it, with a small
// fixed amount of state, so that one detector can run per series across a whole fleet.
//
// Example:
//   std::unique_ptr<AnomalyDetector> detector = NewAnomalyDetector();
//   for (const Sample& s : samples) {
//     if (detector->Update(s.value, s.unix_seconds) >= kAnomalyAlertThreshold) { ... }
//   }
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace shadowfleet {

// A causal detector for one series: the score of a sample depends only on that sample and the
// ones fed before it. State is bounded whatever the length of the series.
//
// Thread-compatible: one instance per series; calls on one instance must be serialised by the
// caller, distinct instances may be used from different threads.
class AnomalyDetector {
 public:
  virtual ~AnomalyDetector() = default;

  // Feeds the sample `value` taken at `unix_seconds` (seconds since 1970-01-01 UTC) and returns
  // its anomaly likelihood in [0, 1]. A NaN or infinite value or time is a missing sample: it
  // advances the row count, teaches the model nothing and scores 0.
  virtual double Update(double value, double unix_seconds) = 0;

  // Bytes of memory held for this series now: the object and everything it owns.
  virtual size_t StateBytes() const = 0;
};

// The score at and above which a sample of the default detector is an anomaly. It is the
// threshold the NAB optimiser chose for NovelBinDetector on all three NAB profiles (an exact
// score value, so comparisons must be `>=`).
inline constexpr double kAnomalyAlertThreshold = 0.26692871781071065;

// The default detector: a NovelBinDetector.
std::unique_ptr<AnomalyDetector> NewAnomalyDetector();

// Scores a sample by how new the place it lands in is. The first 250 valid samples fix a
// centre (median), a scale (inter-decile range) and, for each of three scales, a grid over the
// asinh-compressed value. Afterwards a sample that falls into a never-seen value bin, or (once
// a day of data has been seen) a never-seen (2-hour time-of-day bucket, coarse bin) cell, is
// novel; its score is discounted by the Good-Turing probability that this series produces a
// new cell at all. Scores are averaged over the three scales and passed through a peak-hold
// refractory of 100 rows. docs/prediction.md describes it with every constant.
//
// Bit-compatible with the reference prototype it was ported from. Cell states take two bits
// each; the whole state is about 2.7 KB per series after warm-up (plus a 2.3 KB buffer during
// warm-up only).
class NovelBinDetector final : public AnomalyDetector {
 public:
  NovelBinDetector() = default;
  NovelBinDetector(const NovelBinDetector&) = delete;
  NovelBinDetector& operator=(const NovelBinDetector&) = delete;

  double Update(double value, double unix_seconds) override;
  size_t StateBytes() const override;

  // True once the warm-up samples have fixed the grids; scores are 0 before.
  bool warmed_up() const { return warmed_up_; }

  static constexpr int kWarmupSamples = 250;

 private:
  static constexpr int kMembers = 3;
  static constexpr int kBins = 256;
  static constexpr int kHourBuckets = 12;

  // A fixed array of two-bit cell states: 0 never seen, 1 seen once, 2 seen at least twice.
  template <int kCells>
  class CellStates {
   public:
    // Advances cell `i` (0 -> 1 -> 2, then stays) and keeps `seen_once` equal to the number
    // of cells in state 1. Returns the state the cell had before.
    int Visit(int i, int32_t& seen_once);

   private:
    std::array<uint8_t, kCells / 4> packed_{};
  };

  // One scale of the ensemble: its compression scale and its two grids.
  struct Member {
    double scale = 1.0;
    double origin = 0.0;      // Lowest warm-up value, in compressed units.
    double value_width = 1;   // Bin width of the value channel.
    double hourly_width = 1;  // Bin width of the time-of-day channel.
    int32_t value_seen_once = 0;
    int32_t hourly_seen_once = 0;
    CellStates<kBins> value_cells;
    CellStates<kBins * kHourBuckets> hourly_cells;
  };

  // How much of the model may score a sample.
  enum class Scoring { kLearnOnly, kValueOnly, kValueAndTimeOfDay };

  struct Warmup {
    std::array<double, kWarmupSamples> values;
    std::array<uint8_t, kWarmupSamples> hour_buckets;
    int size = 0;
  };

  void FinishWarmup();
  double Observe(double value, int hour_bucket, Scoring scoring);
  double Refractory(double score);

  int64_t row_ = 0;  // Every row, missing ones included: the refractory's clock.
  int64_t last_alert_row_ = -1'000'000'000;
  double last_alert_score_ = 0.0;
  bool has_first_time_ = false;
  double first_time_ = 0.0;
  int64_t observed_ = 0;  // Valid samples learnt, warm-up included.
  bool warmed_up_ = false;
  double centre_ = 0.0;
  std::unique_ptr<Warmup> warmup_ = std::make_unique<Warmup>();  // Released after warm-up.
  std::array<Member, kMembers> members_;
};

}  // namespace shadowfleet

// The NAB score of a detector's anomaly scores on a corpus, as the benchmark defines it:
//
// * The first 15 % of each file's rows (at most 750) are probation: not scored at all.
// * A detection is a row whose score is at least the threshold. In each anomaly window only
//   the earliest detection counts, worth tpWeight * S(-(last - row + 1) / width) / S(-1), so
//   exactly tpWeight on the window's first row; an undetected window costs fnWeight.
//   S(y) = 2 / (1 + e^(5y)) - 1, and S(y) = -1 for y > 3.
// * A detection outside every window costs fpWeight * S((row - last) / (width - 1)) after a
//   window (about 0 right after it, the full fpWeight three widths later) and fpWeight before
//   the first window or after a one-row window.
// * One threshold per profile for the whole corpus: the one that maximises the corpus total,
//   over every distinct score value and "detect nothing"; on ties the highest.
// * Normalised score = 100 * (raw - null) / (perfect - null): a detector that never fires
//   scores 0, one that fires on the first row of every window 100.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "shadowfleet/eval/nab_corpus.h"

namespace shadowfleet {

// One vector of anomaly scores per corpus file, in the corpus' file order, one per row.
using CorpusScores = std::vector<std::vector<double>>;

// NAB's scaled sigmoid S(y).
double NabScaledSigmoid(double y);

struct NabFileScore {
  std::string name;
  int64_t windows = 0;   // Windows with at least one row after probation.
  int64_t detected = 0;  // True positives: windows with a detection.
  int64_t missed = 0;    // False negatives.
  int64_t fp_rows = 0;   // Detections outside every window.
  int64_t tp_rows = 0;   // Detections inside windows (only the earliest of each counts).
  double raw = 0.0;
};

struct NabProfileScore {
  NabProfile profile;
  // Rows with a score >= threshold are detections; +infinity means "detect nothing".
  double threshold = std::numeric_limits<double>::infinity();
  double raw = 0.0;
  double null_raw = 0.0;     // -fnWeight * windows
  double perfect_raw = 0.0;  // +tpWeight * windows
  double score = 0.0;        // Normalised; NaN for a corpus without windows.
  std::vector<NabFileScore> files;
};

// A candidate threshold of the optimiser and the corpus raw score it gives.
struct NabSweepPoint {
  double threshold = 0.0;
  double raw = 0.0;
};

// Precomputes each row's window and value once per corpus; then scores any number of
// detectors. Immutable after construction, so safe to share between threads. The corpus must
// outlive the scorer.
class NabScorer {
 public:
  explicit NabScorer(const NabCorpus& corpus);

  // Optimises the threshold for `profile` and scores every file at it. INVALID_ARGUMENT if
  // `scores` does not have one score per row of every file. NaN scores count as 0.
  absl::StatusOr<NabProfileScore> Score(const CorpusScores& scores,
                                        const NabProfile& profile) const;

  // Scores every file at a fixed threshold.
  absl::StatusOr<NabProfileScore> ScoreAt(const CorpusScores& scores, const NabProfile& profile,
                                          double threshold) const;

  // Every candidate threshold, highest first (starting with +infinity), and its raw score.
  absl::StatusOr<std::vector<NabSweepPoint>> Sweep(const CorpusScores& scores,
                                                   const NabProfile& profile) const;

  int64_t counted_windows() const { return counted_windows_; }

  // Unweighted value of a detection on `row` of file `file`: the TP value (0, 1] inside a
  // window, the FP value [-1, 0) outside; 0 during probation.
  double RowValue(size_t file, int64_t row) const;

 private:
  // Per row: window index within the file (-1 outside) and unweighted value.
  struct FileRows {
    std::vector<int32_t> window;
    std::vector<double> value;
    int64_t probation = 0;
    std::vector<bool> counted;  // Per window: has a row after probation.
  };

  absl::Status CheckShape(const CorpusScores& scores) const;
  NabProfileScore Totals(const NabProfile& profile, double threshold) const;

  const NabCorpus& corpus_;
  std::vector<FileRows> rows_;
  int64_t counted_windows_ = 0;
};

}  // namespace shadowfleet

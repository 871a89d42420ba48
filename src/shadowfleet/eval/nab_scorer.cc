#include "shadowfleet/eval/nab_scorer.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/status_macros.h"

namespace shadowfleet {
namespace {

double Clean(double score) {
  return std::isnan(score) ? 0.0 : score;
}

}  // namespace

double NabScaledSigmoid(double y) {
  // Strictly beyond three widths: the published per-row values use `>` here.
  if (y > 3.0) {
    return -1.0;
  }
  return 2.0 / (1.0 + std::exp(5.0 * y)) - 1.0;
}

NabScorer::NabScorer(const NabCorpus& corpus) : corpus_(corpus) {
  const double max_tp = NabScaledSigmoid(-1.0);
  for (const NabFile& file : corpus.files) {
    int64_t n = static_cast<int64_t>(file.series.size());
    FileRows r;
    r.window.assign(static_cast<size_t>(n), -1);
    r.value.assign(static_cast<size_t>(n), -1.0);
    r.probation = file.probation_rows;

    // Inside a window the value falls from 1 on its first row; after it the cost of a false
    // positive grows from about 0 to the full weight three widths later.
    for (size_t k = 0; k < file.windows.size(); ++k) {
      const NabWindow& w = file.windows[k];
      double width = static_cast<double>(w.width());
      for (int64_t i = w.first_row; i <= w.last_row; ++i) {
        r.window[static_cast<size_t>(i)] = static_cast<int32_t>(k);
        r.value[static_cast<size_t>(i)] =
            NabScaledSigmoid(-static_cast<double>(w.last_row - i + 1) / width) / max_tp;
      }
      int64_t next = k + 1 < file.windows.size() ? file.windows[k + 1].first_row : n;
      for (int64_t i = w.last_row + 1; i < next; ++i) {
        r.value[static_cast<size_t>(i)] =
            w.width() > 1 ? NabScaledSigmoid(static_cast<double>(i - w.last_row) / (width - 1))
                          : -1.0;
      }
      r.counted.push_back(w.last_row >= r.probation);
      counted_windows_ += r.counted.back() ? 1 : 0;
    }
    rows_.push_back(std::move(r));
  }
}

double NabScorer::RowValue(size_t file, int64_t row) const {
  const FileRows& r = rows_[file];
  return row < r.probation ? 0.0 : r.value[static_cast<size_t>(row)];
}

absl::Status NabScorer::CheckShape(const CorpusScores& scores) const {
  if (scores.size() != corpus_.files.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "scores for ", scores.size(), " files, but the corpus has ", corpus_.files.size()));
  }
  for (size_t f = 0; f < scores.size(); ++f) {
    if (scores[f].size() != corpus_.files[f].series.size()) {
      return absl::InvalidArgumentError(absl::StrCat(corpus_.files[f].name, ": ", scores[f].size(),
                                                     " scores for ", corpus_.files[f].series.size(),
                                                     " rows"));
    }
  }
  return absl::OkStatus();
}

NabProfileScore NabScorer::Totals(const NabProfile& profile, double threshold) const {
  NabProfileScore result;
  result.profile = profile;
  result.threshold = threshold;
  result.null_raw = -profile.fn_weight * static_cast<double>(counted_windows_);
  result.perfect_raw = profile.tp_weight * static_cast<double>(counted_windows_);
  return result;
}

absl::StatusOr<std::vector<NabSweepPoint>> NabScorer::Sweep(const CorpusScores& scores,
                                                            const NabProfile& profile) const {
  SF_RETURN_IF_ERROR(CheckShape(scores));
  struct Row {
    double score;
    int32_t window;  // Corpus-wide window index, -1 outside.
    double value;
  };
  std::vector<Row> rows;
  int32_t window_base = 0;
  for (size_t f = 0; f < rows_.size(); ++f) {
    const FileRows& r = rows_[f];
    for (size_t i = static_cast<size_t>(r.probation); i < r.value.size(); ++i) {
      int32_t w = r.window[i] < 0 ? -1 : window_base + r.window[i];
      rows.push_back({Clean(scores[f][i]), w, r.value[i]});
    }
    window_base += static_cast<int32_t>(r.counted.size());
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Row& a, const Row& b) { return a.score > b.score; });

  // Lower the threshold one row at a time. A false positive adds its cost; the first
  // detection in a window turns its miss into a hit; a later one only adds if it is better
  // (earlier). The total is read at the last row of each run of equal scores.
  double null_raw = -profile.fn_weight * static_cast<double>(counted_windows_);
  std::vector<double> best(static_cast<size_t>(window_base), 0.0);
  std::vector<bool> hit(static_cast<size_t>(window_base), false);
  std::vector<NabSweepPoint> points = {{std::numeric_limits<double>::infinity(), null_raw}};
  double sum = 0.0;
  for (size_t k = 0; k < rows.size(); ++k) {
    const Row& row = rows[k];
    if (row.window < 0) {
      sum += profile.fp_weight * row.value;
    } else {
      double value = profile.tp_weight * row.value;
      double& b = best[static_cast<size_t>(row.window)];
      if (!hit[static_cast<size_t>(row.window)]) {
        hit[static_cast<size_t>(row.window)] = true;
        sum += profile.fn_weight + value;
        b = value;
      } else if (value > b) {
        sum += value - b;
        b = value;
      }
    }
    if (k + 1 == rows.size() || rows[k + 1].score != row.score) {
      points.push_back({row.score, sum + null_raw});
    }
  }
  return points;
}

absl::StatusOr<NabProfileScore> NabScorer::Score(const CorpusScores& scores,
                                                 const NabProfile& profile) const {
  SF_ASSIGN_OR_RETURN(std::vector<NabSweepPoint> points, Sweep(scores, profile));
  const NabSweepPoint* chosen = &points.front();
  for (const NabSweepPoint& p : points) {
    if (p.raw > chosen->raw) {
      chosen = &p;
    }
  }
  return ScoreAt(scores, profile, chosen->threshold);
}

absl::StatusOr<NabProfileScore> NabScorer::ScoreAt(const CorpusScores& scores,
                                                   const NabProfile& profile,
                                                   double threshold) const {
  SF_RETURN_IF_ERROR(CheckShape(scores));
  NabProfileScore result = Totals(profile, threshold);
  for (size_t f = 0; f < rows_.size(); ++f) {
    const FileRows& r = rows_[f];
    NabFileScore file{corpus_.files[f].name};
    std::vector<double> earliest(r.counted.size(), 0.0);
    std::vector<bool> hit(r.counted.size(), false);
    double fp_sum = 0.0;
    for (size_t i = static_cast<size_t>(r.probation); i < r.value.size(); ++i) {
      if (!(Clean(scores[f][i]) >= threshold)) {
        continue;
      }
      int32_t w = r.window[i];
      if (w < 0) {
        fp_sum += r.value[i];
        ++file.fp_rows;
        continue;
      }
      ++file.tp_rows;
      if (!hit[static_cast<size_t>(w)]) {
        hit[static_cast<size_t>(w)] = true;
        earliest[static_cast<size_t>(w)] = r.value[i];
      }
    }
    for (size_t w = 0; w < r.counted.size(); ++w) {
      if (!r.counted[w]) {
        continue;
      }
      ++file.windows;
      if (hit[w]) {
        ++file.detected;
        file.raw += profile.tp_weight * earliest[w];
      } else {
        ++file.missed;
        file.raw -= profile.fn_weight;
      }
    }
    file.raw += profile.fp_weight * fp_sum;
    result.raw += file.raw;
    result.files.push_back(std::move(file));
  }
  double span = result.perfect_raw - result.null_raw;
  result.score = span > 0 ? 100.0 * (result.raw - result.null_raw) / span
                          : std::numeric_limits<double>::quiet_NaN();
  return result;
}

}  // namespace shadowfleet

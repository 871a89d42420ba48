// Offline evaluation of anomaly detectors on a NAB-layout corpus: running one of ours over
// every file, reading the score files any other detector wrote, scoring every profile, and
// writing the per-file results.
//
// Example:
//   absl::StatusOr<NabCorpus> corpus = LoadNabCorpus("/data/nab");
//   CorpusScores scores = RunDetector(*corpus, NewAnomalyDetector);
//   absl::StatusOr<std::vector<NabProfileScore>> results = ScoreAllProfiles(*corpus, scores);
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include <nlohmann/json.hpp>

#include "shadowfleet/eval/nab_corpus.h"
#include "shadowfleet/eval/nab_scorer.h"
#include "shadowfleet/prediction/anomaly_detector.h"

namespace shadowfleet {

using DetectorFactory = std::function<std::unique_ptr<AnomalyDetector>()>;

// Runs a fresh detector from `make` over each file, causally, row by row. Files are spread
// over `workers` threads; each detector is used by one thread only.
CorpusScores RunDetector(const NabCorpus& corpus, const DetectorFactory& make, int workers = 1);

// Reads the anomaly_score column of every corpus file from `dir`, laid out like the corpus'
// data directory: <dir>/<category>/<file>.csv, or (NAB's results layout)
// <dir>/<category>/<detector>_<file>.csv. Errors name the file and line (see ReadScores);
// NOT_FOUND names the corpus file that has no score file.
absl::StatusOr<CorpusScores> ReadCorpusScores(const NabCorpus& corpus, const std::string& dir);

// Optimised scores for every profile of the corpus, in the corpus' profile order.
absl::StatusOr<std::vector<NabProfileScore>> ScoreAllProfiles(const NabCorpus& corpus,
                                                              const CorpusScores& scores);

// One JSON object: the normalised score of each profile under the profile's own name
// ("standard", "reward_low_FP_rate", ...), and under "profiles" each profile's threshold, raw,
// null and perfect totals, detected windows and false-positive rows; "corpus" has counts and
// the profile names in order.
nlohmann::json NabReportJson(const NabCorpus& corpus, const std::vector<NabProfileScore>& results);

// Writes under `dir`: <category>/<file>.csv (each file's rows with anomaly_score and label,
// 1 inside a window, columns added; usable again as a score file), summary.csv (per profile
// and file: threshold, windows, TP, FN, FP rows, raw score) and scores.json (NabReportJson).
absl::Status WriteNabResults(const std::string& dir, const NabCorpus& corpus,
                             const CorpusScores& scores,
                             const std::vector<NabProfileScore>& results);

}  // namespace shadowfleet

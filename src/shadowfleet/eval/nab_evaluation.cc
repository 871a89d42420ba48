#include "shadowfleet/eval/nab_evaluation.h"

#include <filesystem>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "shadowfleet/common/files.h"
#include "shadowfleet/common/parallel.h"
#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/eval/csv.h"

namespace shadowfleet {
namespace {

namespace fs = std::filesystem;

// The score file for corpus file "<category>/<file>.csv" under `dir`: the same relative path,
// or else the one file in <dir>/<category>/ named "<anything>_<file>.csv".
absl::StatusOr<std::string> FindScoreFile(const std::string& dir, const NabFile& file) {
  std::string exact = absl::StrCat(dir, "/", file.name);
  std::error_code ec;
  if (fs::is_regular_file(exact, ec)) {
    return exact;
  }
  std::string base = fs::path(file.name).filename().string();
  std::vector<std::string> matches;
  for (const fs::directory_entry& e : fs::directory_iterator(dir + "/" + file.category, ec)) {
    std::string name = e.path().filename().string();
    if (e.is_regular_file() && absl::EndsWith(name, "_" + base)) {
      matches.push_back(e.path().string());
    }
  }
  if (matches.size() == 1) {
    return matches[0];
  }
  if (matches.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(dir, "/", file.category, ": ", matches.size(),
                                                   " files end in _", base, "; expected one"));
  }
  return absl::NotFoundError(absl::StrCat("no score file for ", file.name, " (looked for ", exact,
                                          " and ", dir, "/", file.category, "/*_", base, ")"));
}

std::vector<double> WindowLabels(const NabFile& file) {
  std::vector<double> labels(file.series.size(), 0.0);
  for (const NabWindow& w : file.windows) {
    for (int64_t i = w.first_row; i <= w.last_row; ++i) {
      labels[static_cast<size_t>(i)] = 1.0;
    }
  }
  return labels;
}

std::string SummaryCsv(const std::vector<NabProfileScore>& results) {
  std::string out = "profile,file,threshold,windows,tp,fn,fp_rows,raw\n";
  for (const NabProfileScore& r : results) {
    for (const NabFileScore& f : r.files) {
      absl::StrAppend(&out, r.profile.name, ",", CsvQuote(f.name), ",", ExactDecimal(r.threshold),
                      ",", f.windows, ",", f.detected, ",", f.missed, ",", f.fp_rows, ",",
                      ExactDecimal(f.raw), "\n");
    }
  }
  return out;
}

}  // namespace

CorpusScores RunDetector(const NabCorpus& corpus, const DetectorFactory& make, int workers) {
  CorpusScores scores(corpus.files.size());
  ParallelFor(corpus.files.size(), workers, [&](size_t f) {
    const Series& series = corpus.files[f].series;
    std::unique_ptr<AnomalyDetector> detector = make();
    scores[f].reserve(series.size());
    for (size_t i = 0; i < series.size(); ++i) {
      scores[f].push_back(detector->Update(series.values[i], series.times[i]));
    }
  });
  return scores;
}

absl::StatusOr<CorpusScores> ReadCorpusScores(const NabCorpus& corpus, const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir, ": not a directory"));
  }
  CorpusScores scores;
  for (const NabFile& file : corpus.files) {
    SF_ASSIGN_OR_RETURN(std::string path, FindScoreFile(dir, file));
    SF_ASSIGN_OR_RETURN(std::vector<double> s, ReadScores(path, file.series));
    scores.push_back(std::move(s));
  }
  return scores;
}

absl::StatusOr<std::vector<NabProfileScore>> ScoreAllProfiles(const NabCorpus& corpus,
                                                              const CorpusScores& scores) {
  NabScorer scorer(corpus);
  std::vector<NabProfileScore> results;
  for (const NabProfile& profile : corpus.profiles) {
    SF_ASSIGN_OR_RETURN(NabProfileScore r, scorer.Score(scores, profile));
    results.push_back(std::move(r));
  }
  return results;
}

nlohmann::json NabReportJson(const NabCorpus& corpus, const std::vector<NabProfileScore>& results) {
  nlohmann::json report = nlohmann::json::object();
  nlohmann::json profiles = nlohmann::json::object();
  int64_t windows = 0;
  for (const NabProfileScore& r : results) {
    report[r.profile.name] = r.score;
    int64_t detected = 0;
    int64_t fp_rows = 0;
    windows = 0;
    for (const NabFileScore& f : r.files) {
      detected += f.detected;
      fp_rows += f.fp_rows;
      windows += f.windows;
    }
    profiles[r.profile.name] = {
        {"score", r.score},
        {"threshold", r.threshold},  // null when the best choice is to detect nothing
        {"raw", r.raw},
        {"nullRaw", r.null_raw},
        {"perfectRaw", r.perfect_raw},
        {"weights",
         {{"tp", r.profile.tp_weight}, {"fn", r.profile.fn_weight}, {"fp", r.profile.fp_weight}}},
        {"detectedWindows", detected},
        {"fpRows", fp_rows},
    };
  }
  std::set<std::string> categories;
  for (const NabFile& f : corpus.files) {
    categories.insert(f.category);
  }
  std::vector<std::string> profile_order;
  for (const NabProfileScore& r : results) {
    profile_order.push_back(r.profile.name);
  }
  report["profiles"] = profiles;
  report["corpus"] = {{"root", corpus.root},          {"profiles", profile_order},
                      {"files", corpus.files.size()}, {"rows", corpus.rows()},
                      {"windows", windows},           {"categories", categories}};
  return report;
}

absl::Status WriteNabResults(const std::string& dir, const NabCorpus& corpus,
                             const CorpusScores& scores,
                             const std::vector<NabProfileScore>& results) {
  for (size_t f = 0; f < corpus.files.size(); ++f) {
    const NabFile& file = corpus.files[f];
    std::string path = absl::StrCat(dir, "/", file.name);
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat(path, ": cannot create its directory: ", ec.message()));
    }
    std::vector<double> labels = WindowLabels(file);
    SF_RETURN_IF_ERROR(WriteFileAtomically(
        path,
        WriteSeriesWithColumns(file.series, {{"anomaly_score", &scores[f]}, {"label", &labels}})));
  }
  SF_RETURN_IF_ERROR(WriteFileAtomically(dir + "/summary.csv", SummaryCsv(results)));
  return WriteFileAtomically(dir + "/scores.json", NabReportJson(corpus, results).dump(2) + "\n");
}

}  // namespace shadowfleet

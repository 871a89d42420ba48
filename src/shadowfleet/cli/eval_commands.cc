// Offline anomaly-detection commands: `detect` scores one CSV series with the built-in
// detector, `eval nab` scores a detector on a NAB-layout corpus. Neither talks to the daemon.
#include <chrono>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "shadowfleet/cli/cli.h"
#include "shadowfleet/cli/cli_support.h"
#include "shadowfleet/cli/table.h"
#include "shadowfleet/common/files.h"
#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/eval/nab_evaluation.h"
#include "shadowfleet/eval/series.h"
#include "shadowfleet/prediction/anomaly_detector.h"

namespace shadowfleet {
namespace {

// Input files the user named are bad input when missing, like malformed ones (exit code 2).
int ReportInput(const absl::Status& status) {
  if (absl::IsNotFound(status)) {
    std::cerr << "error: " << status.message() << "\n";
    return kExitUsage;
  }
  return Report(status);
}

absl::StatusOr<nlohmann::json> Detect(const std::string& input, const std::string& output) {
  SF_ASSIGN_OR_RETURN(Series series, ReadSeries(input));
  std::unique_ptr<AnomalyDetector> detector = NewAnomalyDetector();
  std::vector<double> scores;
  scores.reserve(series.size());
  int64_t alerts = 0;
  for (size_t i = 0; i < series.size(); ++i) {
    scores.push_back(detector->Update(series.values[i], series.times[i]));
    alerts += scores.back() >= kAnomalyAlertThreshold ? 1 : 0;
  }
  SF_RETURN_IF_ERROR(
      WriteFileAtomically(output, WriteSeriesWithColumns(series, {{"anomaly_score", &scores}})));
  return nlohmann::json{{"input", input},        {"output", output},
                        {"rows", series.size()}, {"alertThreshold", kAnomalyAlertThreshold},
                        {"alerts", alerts},      {"stateBytes", detector->StateBytes()}};
}

void PrintDetect(const nlohmann::json& r) {
  std::cout << absl::StrFormat(
      "%s: %d rows scored, %d at or above the alert threshold %.6f; written to %s\n",
      r["input"].get<std::string>(), r["rows"].get<int64_t>(), r["alerts"].get<int64_t>(),
      r["alertThreshold"].get<double>(), r["output"].get<std::string>());
}

struct EvalOptions {
  std::string data;
  std::string scores;
  std::string results_dir;
  int workers = 1;
};

absl::StatusOr<nlohmann::json> EvalNab(const EvalOptions& o) {
  SF_ASSIGN_OR_RETURN(NabCorpus corpus, LoadNabCorpus(o.data));
  CorpusScores scores;
  double detect_seconds = 0.0;
  if (o.scores.empty()) {
    auto start = std::chrono::steady_clock::now();
    scores = RunDetector(corpus, NewAnomalyDetector, o.workers);
    detect_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } else {
    SF_ASSIGN_OR_RETURN(scores, ReadCorpusScores(corpus, o.scores));
  }
  SF_ASSIGN_OR_RETURN(std::vector<NabProfileScore> results, ScoreAllProfiles(corpus, scores));
  if (!o.results_dir.empty()) {
    SF_RETURN_IF_ERROR(WriteNabResults(o.results_dir, corpus, scores, results));
  }
  nlohmann::json report = NabReportJson(corpus, results);
  if (o.scores.empty()) {
    report["detector"] = {{"name", "novel-bin"}, {"seconds", detect_seconds}};
  } else {
    report["detector"] = {{"name", "scores"}, {"scores", o.scores}};
  }
  return report;
}

void PrintEval(const nlohmann::json& r) {
  const nlohmann::json& c = r["corpus"];
  std::cout << absl::StrFormat("%s: %d files, %d rows, %d windows; detector: %s\n\n",
                               c["root"].get<std::string>(), c["files"].get<int64_t>(),
                               c["rows"].get<int64_t>(), c["windows"].get<int64_t>(),
                               r["detector"]["name"].get<std::string>());
  Table table({"PROFILE", "SCORE", "THRESHOLD", "RAW", "DETECTED", "FP-ROWS"});
  for (const nlohmann::json& name : c["profiles"]) {
    const nlohmann::json& p = r["profiles"][name.get<std::string>()];
    table.AddRow({name.get<std::string>(), Text(p["score"]),
                  p["threshold"].is_number() ? absl::StrFormat("%.6f", p["threshold"].get<double>())
                                             : "never",
                  absl::StrFormat("%.3f", p["raw"].get<double>()),
                  absl::StrCat(p["detectedWindows"].get<int64_t>(), "/", c["windows"].dump()),
                  Text(p["fpRows"])});
  }
  table.Print(std::cout);
}

}  // namespace

void AddEvalCommands(CLI::App& app, CliContext& ctx) {
  auto input = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>();
  CLI::App* detect = app.add_subcommand(
      "detect", "Score a series (CSV with timestamp,value columns) with the anomaly detector");
  detect->add_option("-i,--input", *input, "CSV file with timestamp and value columns")->required();
  detect->add_option("--output", *output, "Where to write the rows with anomaly_score added")
      ->required();
  detect->add_option("-o", ctx.output, "Output format")->check(CLI::IsMember({"table", "json"}));
  detect->callback([&ctx, input, output] {
    absl::StatusOr<nlohmann::json> r = Detect(*input, *output);
    ctx.exit_code = r.ok() ? Emit(ctx, r, PrintDetect) : ReportInput(r.status());
  });

  auto o = std::make_shared<EvalOptions>();
  CLI::App* eval = app.add_subcommand("eval", "Evaluate anomaly detection offline");
  eval->require_subcommand(1);
  CLI::App* nab = eval->add_subcommand(
      "nab", "NAB scores of the built-in detector, or of score files, on a NAB-layout corpus");
  nab->add_option("--data", o->data,
                  "Corpus root: data/, labels/combined_windows.json, "
                  "profiles.json")
      ->required();
  nab->add_option("--scores", o->scores,
                  "Score precomputed anomaly_score files laid out like data/ instead");
  nab->add_option("--results-dir", o->results_dir,
                  "Write per-file rows with scores, summary.csv and scores.json here");
  nab->add_option("--workers", o->workers, "Threads running the detector")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  nab->add_option("-o,--output", ctx.output, "Output format")
      ->check(CLI::IsMember({"table", "json"}));
  nab->callback([&ctx, o] {
    absl::StatusOr<nlohmann::json> r = EvalNab(*o);
    ctx.exit_code = r.ok() ? Emit(ctx, r, PrintEval) : ReportInput(r.status());
  });

  AddRiskEvalCommands(*eval, ctx);
}

}  // namespace shadowfleet

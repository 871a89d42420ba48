// Offline risk-model commands, none of which talks to the daemon:
//   eval cmapss   the failure-risk machinery on NASA's turbofan run-to-failure benchmark
//   eval lanl     the age hazard of the prior, fitted on Los Alamos failure records
//   train, score  a risk model from a fleet's own metric and failure files, and its scores
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"

#include "shadowfleet/cli/cli.h"
#include "shadowfleet/cli/cli_support.h"
#include "shadowfleet/cli/table.h"
#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/eval/cmapss.h"
#include "shadowfleet/eval/lanl.h"
#include "shadowfleet/eval/offline_risk.h"

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

struct CmapssCommand {
  std::string train;
  std::string test;
  std::string rul;
  bool cv = false;
  int folds = 5;
  int draws = 50;
  int threads = 2;
  uint64_t seed = 0;
  std::string calibration = "platt";
};

absl::StatusOr<nlohmann::json> EvalCmapss(const CmapssCommand& c) {
  CmapssOptions options;
  options.nthread = c.threads;
  options.seed = c.seed;
  options.calibration =
      c.calibration == "isotonic" ? CalibrationMethod::kIsotonic : CalibrationMethod::kPlatt;
  SF_ASSIGN_OR_RETURN(CmapssSet train, ReadCmapssCsv(c.train));
  if (c.cv) {
    return CrossValidateCmapss(train, options, c.folds, c.draws);
  }
  if (c.test.empty() || c.rul.empty()) {
    return absl::InvalidArgumentError("--test and --rul are required (or --cv)");
  }
  SF_ASSIGN_OR_RETURN(CmapssSet test, ReadCmapssCsv(c.test));
  SF_ASSIGN_OR_RETURN(std::vector<double> rul, ReadRulFile(c.rul, test.units.size()));
  return EvaluateCmapss(train, test, rul, options);
}

void AddMetricsRow(Table& table, const std::string& name, const nlohmann::json& m) {
  table.AddRow({name, absl::StrFormat("%.2f", m["rmse"].get<double>()),
                absl::StrFormat("%.1f", m["phm08_score"].get<double>()),
                absl::StrFormat("%.3f", m["precision"].get<double>()),
                absl::StrFormat("%.3f", m["recall"].get<double>()),
                absl::StrFormat("%.4f", m["brier"].get<double>())});
}

void PrintCmapss(const nlohmann::json& r) {
  Table table({"SET", "RMSE", "PHM08", "PRECISION", "RECALL", "BRIER"});
  if (r.contains("allCycles")) {
    std::cout << absl::StrFormat("%s: %d-fold cross-validation by engine (%.0f s)\n\n",
                                 r["train"].get<std::string>(), r["folds"].get<int>(),
                                 r["seconds"].get<double>());
    AddMetricsRow(table, "every held-out cycle", r["allCycles"]);
    AddMetricsRow(table,
                  absl::StrCat("one random cut-off per engine (mean of ",
                               r["truncated"]["draws"].get<int>(), ")"),
                  r["truncated"]["mean"]);
  } else {
    std::cout << absl::StrFormat(
        "trained on %s (%d rows, %d operating conditions, %d sensors kept, %d features, "
        "%.1f s)\nscored the last cycle of each of the %d engines of %s (%d with RUL <= 30)\n\n",
        r["train"].get<std::string>(), r["trainRows"].get<int64_t>(), r["conditions"].get<int>(),
        r["sensors"].size(), r["features"].get<int>(), r["fitSeconds"].get<double>(),
        r["units"].get<int64_t>(), r["test"].get<std::string>(), r["positives"].get<int64_t>());
    AddMetricsRow(table, "test", r);
  }
  table.Print(std::cout);
}

void AddCmapssCommand(CLI::App& eval, CliContext& ctx) {
  auto c = std::make_shared<CmapssCommand>();
  CLI::App* cmd = eval.add_subcommand(
      "cmapss",
      "Failure-risk models on NASA C-MAPSS: RUL and P(failure within 30 cycles) of test engines");
  cmd->add_option("--train", c->train,
                  "Run-to-failure engines (CSV: unit, cycle, 3 settings, "
                  "sensors)")
      ->required();
  cmd->add_option("--test", c->test, "Engines cut off before failure, same columns");
  cmd->add_option("--rul", c->rul, "True remaining life of each test engine, one per line");
  cmd->add_flag("--cv", c->cv, "Cross-validate on the training engines instead of testing");
  cmd->add_option("--folds", c->folds, "Cross-validation folds")
      ->check(CLI::Range(2, 20))
      ->capture_default_str();
  cmd->add_option("--draws", c->draws, "Random cut-off draws in cross-validation")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--threads", c->threads, "XGBoost threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--seed", c->seed, "Seed of folds and tree subsampling")->capture_default_str();
  cmd->add_option("--calibration", c->calibration, "Probability calibration")
      ->check(CLI::IsMember({"platt", "isotonic"}))
      ->capture_default_str();
  cmd->add_option("-o,--output", ctx.output, "Output format")
      ->check(CLI::IsMember({"table", "json"}));
  cmd->callback([&ctx, c] {
    absl::StatusOr<nlohmann::json> r = EvalCmapss(*c);
    ctx.exit_code = r.ok() ? Emit(ctx, r, PrintCmapss) : ReportInput(r.status());
  });
}

struct LanlCommand {
  std::string data;
  double max_processors = 4;
};

absl::StatusOr<nlohmann::json> EvalLanl(const LanlCommand& c) {
  SF_ASSIGN_OR_RETURN(std::vector<LanlFailure> records, ReadLanlFailures(c.data));
  LanlFitOptions options;
  options.max_processors_per_node = c.max_processors;
  nlohmann::json out = FitLanlHazard(records, options);
  out["data"]["path"] = c.data;
  return out;
}

// "1-3 months" from a band in `scale` units of the figures (12 for years shown in months).
std::string Band(const nlohmann::json& from, const nlohmann::json& to, double scale,
                 const char* unit) {
  return to.is_null() ? absl::StrFormat("%g %s and more", from.get<double>() * scale, unit)
                      : absl::StrFormat("%g-%g %s", from.get<double>() * scale,
                                        to.get<double>() * scale, unit);
}

void PrintLanl(const nlohmann::json& r) {
  const nlohmann::json& d = r["data"];
  const nlohmann::json& o = r["overall"];
  std::cout << absl::StrFormat(
      "%s: %d of %d failure records used (%d systems, %d cohorts, %.0f nodes of at most %g "
      "processors)\noverall %.3f failures per node-year (%.2e per hour); power law: cumulative "
      "failures %.3f x age^%.3f (age in years)\n\n",
      d["path"].get<std::string>(), d["used"].get<int64_t>(), d["records"].get<int64_t>(),
      d["systems"].get<int64_t>(), d["cohorts"].get<int64_t>(), o["nodes"].get<double>(),
      d["maxProcessorsPerNode"].get<double>(), o["perNodeYear"].get<double>(),
      o["perHour"].get<double>(), r["powerLaw"]["lambdaPerNodeYear"].get<double>(),
      r["powerLaw"]["beta"].get<double>());
  Table bands({"AGE", "FAILURES", "NODE-YEARS", "PER NODE-YEAR", "95% INTERVAL"});
  for (const nlohmann::json& b : r["bands"]) {
    bands.AddRow({Band(b["fromYears"], b["toYears"], 12, "months"),
                  absl::StrFormat("%.0f", b["failures"].get<double>()),
                  absl::StrFormat("%.0f", b["nodeYears"].get<double>()),
                  absl::StrFormat("%.3f", b["perNodeYear"].get<double>()),
                  absl::StrFormat("%.3f-%.3f", b["low"].get<double>(), b["high"].get<double>())});
  }
  bands.Print(std::cout);
  std::cout << "\n";
  Table after({"AFTER A REPAIR", "FAILURES", "NODE-YEARS", "PER NODE-YEAR", "x OVERALL"});
  for (const nlohmann::json& w : r["afterRepair"]) {
    after.AddRow({Band(w["fromHours"], w["toHours"], 1, "hours"),
                  absl::StrFormat("%.0f", w["failures"].get<double>()),
                  absl::StrFormat("%.1f", w["nodeYears"].get<double>()),
                  absl::StrFormat("%.2f", w["perNodeYear"].get<double>()),
                  absl::StrFormat("%.1f", w["relative"].get<double>())});
  }
  after.Print(std::cout);
}

void AddLanlCommand(CLI::App& eval, CliContext& ctx) {
  auto c = std::make_shared<LanlCommand>();
  CLI::App* cmd = eval.add_subcommand(
      "lanl", "Fit the risk prior's age hazard on the Los Alamos failure records");
  cmd->add_option("--data", c->data, "The LANL failure records (CSV, LA-UR-05-7318)")->required();
  cmd->add_option("--max-processors", c->max_processors,
                  "Only nodes with at most this many processors")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("-o,--output", ctx.output, "Output format")
      ->check(CLI::IsMember({"table", "json"}));
  cmd->callback([&ctx, c] {
    absl::StatusOr<nlohmann::json> r = EvalLanl(*c);
    ctx.exit_code = r.ok() ? Emit(ctx, r, PrintLanl) : ReportInput(r.status());
  });
}

struct TrainCommand {
  std::string metrics;
  std::string failures;
  std::string model;
  std::string horizon = "30m";
  std::vector<std::string> limits;
  int threads = 2;
  std::string version;
};

absl::StatusOr<OfflineRiskOptions> TrainOptions(const TrainCommand& c) {
  OfflineRiskOptions options;
  if (!absl::ParseDuration(c.horizon, &options.horizon) ||
      options.horizon <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--horizon \"", c.horizon, "\" is not a positive duration like 30m or 2h"));
  }
  for (const std::string& limit : c.limits) {
    std::vector<std::string> parts = absl::StrSplit(limit, absl::MaxSplits('=', 1));
    double value = 0;
    if (parts.size() != 2 || parts[0].empty() || !absl::SimpleAtod(parts[1], &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--limit \"", limit, "\" is not METRIC=VALUE"));
    }
    options.limits[parts[0]] = value;
  }
  options.workers = c.threads;
  options.training.params.nthread = c.threads;
  options.version = c.version;
  return options;
}

absl::StatusOr<nlohmann::json> Train(const TrainCommand& c) {
  SF_ASSIGN_OR_RETURN(OfflineRiskOptions options, TrainOptions(c));
  return TrainRiskModelFromFiles(c.metrics, c.failures, c.model, options);
}

void PrintScores(const char* name, const nlohmann::json& s) {
  std::cout << absl::StrFormat("  %-6s Brier %.4f  log loss %.4f  precision %.3f  recall %.3f\n",
                               name, s["brier"].get<double>(), s["logLoss"].get<double>(),
                               s["precision"].get<double>(), s["recall"].get<double>());
}

void PrintTrain(const nlohmann::json& r) {
  const nlohmann::json& l = r["labelled"];
  std::cout << absl::StrFormat(
      "trained %s on %d rows of %d instances: %d labelled examples, %d before a failure, %d "
      "censored; written to %s\n",
      r["version"].get<std::string>(), r["rows"].get<int64_t>(), r["instances"].get<int64_t>(),
      l["examples"].get<int64_t>(), l["positives"].get<int64_t>(), l["censored"].get<int64_t>(),
      r["model"].get<std::string>());
  const nlohmann::json& v = r["validation"];
  if (v.contains("model")) {
    std::cout << absl::StrFormat("validation on the newest %d examples (%d before a failure):\n",
                                 v["examples"].get<int64_t>(), v["positives"].get<int64_t>());
    PrintScores("model", v["model"]);
    PrintScores("prior", v["prior"]);
  } else {
    std::cout << "validation skipped: " << v.value("skipped", "") << "\n";
  }
}

void AddTrainCommand(CLI::App& app, CliContext& ctx) {
  auto c = std::make_shared<TrainCommand>();
  CLI::App* cmd = app.add_subcommand(
      "train", "Train a risk model from a fleet's metric and failure history (CSV files)");
  cmd->add_option("--metrics", c->metrics, "instance,timestamp,<metric>... rows")->required();
  cmd->add_option("--failures", c->failures, "instance,timestamp[,kind] rows")->required();
  cmd->add_option("--model", c->model, "Where to write the model (JSON)")->required();
  cmd->add_option("--horizon", c->horizon, "Failure within this horizon (30m, 2h ...)")
      ->capture_default_str();
  cmd->add_option("--limit", c->limits,
                  "METRIC=VALUE: a bounded metric and its limit (repeatable; memory, disk and "
                  "process memory ratios are bounded at 1 already)");
  cmd->add_option("--threads", c->threads, "Threads for replay and XGBoost")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--version", c->version, "Version name of the model (default: offline-<time>)");
  cmd->add_option("-o", ctx.output, "Output format")->check(CLI::IsMember({"table", "json"}));
  cmd->callback([&ctx, c] {
    absl::StatusOr<nlohmann::json> r = Train(*c);
    ctx.exit_code = r.ok() ? Emit(ctx, r, PrintTrain) : ReportInput(r.status());
  });
}

struct ScoreCommand {
  std::string model;
  std::string metrics;
  std::string output;
  std::string failures;
  int threads = 2;
};

void PrintScore(const nlohmann::json& r) {
  std::cout << absl::StrFormat(
      "scored %d rows of %d instances with %s; %d at or above %.1f; written to %s\n",
      r["rows"].get<int64_t>(), r["instances"].get<int64_t>(), r["version"].get<std::string>(),
      r["rowsAtOrAboveThreshold"].get<int64_t>(), r["switchoverThreshold"].get<double>(),
      r["output"].get<std::string>());
  if (!r["metricsMissing"].empty()) {
    std::cout << "metrics the model uses but the file lacks: "
              << absl::StrJoin(r["metricsMissing"].get<std::vector<std::string>>(), ", ") << "\n";
  }
}

void AddScoreCommand(CLI::App& app, CliContext& ctx) {
  auto c = std::make_shared<ScoreCommand>();
  CLI::App* cmd = app.add_subcommand(
      "score", "Score every row of a metrics file with a risk model, causally (CSV out)");
  cmd->add_option("--model", c->model, "A model written by `shadowfleet train`")->required();
  cmd->add_option("--metrics", c->metrics, "instance,timestamp,<metric>... rows")->required();
  cmd->add_option("--output", c->output, "Where to write instance,timestamp,risk,top_factor")
      ->required();
  cmd->add_option("--failures", c->failures,
                  "Failures so far (optional): the instance restarts on a new replica after each");
  cmd->add_option("--threads", c->threads, "Threads for replay and XGBoost")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("-o", ctx.output, "Output format")->check(CLI::IsMember({"table", "json"}));
  cmd->callback([&ctx, c] {
    absl::StatusOr<nlohmann::json> r =
        ScoreRiskFromFiles(c->model, c->metrics, c->output, c->failures, c->threads);
    ctx.exit_code = r.ok() ? Emit(ctx, r, PrintScore) : ReportInput(r.status());
  });
}

}  // namespace

void AddRiskCommands(CLI::App& app, CliContext& ctx) {
  AddTrainCommand(app, ctx);
  AddScoreCommand(app, ctx);
}

void AddRiskEvalCommands(CLI::App& eval, CliContext& ctx) {
  AddCmapssCommand(eval, ctx);
  AddLanlCommand(eval, ctx);
}

}  // namespace shadowfleet

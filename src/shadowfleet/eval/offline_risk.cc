#include "shadowfleet/eval/offline_risk.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "shadowfleet/common/files.h"
#include "shadowfleet/common/parallel.h"
#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/eval/csv.h"
#include "shadowfleet/prediction/calibration.h"
#include "shadowfleet/prediction/gbm_risk_model.h"
#include "shadowfleet/prediction/prior_risk_model.h"
#include "shadowfleet/prediction/signal_tracker.h"

namespace shadowfleet {
namespace {

// restarts_recent counts an instance's failures over this window, like health losses live.
constexpr absl::Duration kRestartWindow = absl::Hours(24);
constexpr double kDecisionThreshold = 0.5;
constexpr double kSwitchoverThreshold = 0.7;

std::vector<ReplayedRow> ReplayInstance(const std::string& instance,
                                        const std::vector<MetricRow>& rows,
                                        const std::vector<std::string>& metric_names,
                                        const std::vector<const FleetEvent*>& events,
                                        const std::map<std::string, double>& limits,
                                        const RiskFeatures& features) {
  std::vector<std::optional<double>> limit(metric_names.size());
  for (size_t m = 0; m < metric_names.size(); ++m) {
    if (auto it = limits.find(metric_names[m]); it != limits.end()) {
      limit[m] = it->second;
    }
  }
  SignalTracker tracker;
  std::vector<ReplayedRow> out;
  out.reserve(rows.size());
  absl::Time replica_start = rows.empty() ? absl::InfinitePast() : rows.front().at;
  std::vector<absl::Time> failures;
  size_t next_event = 0;
  for (const MetricRow& row : rows) {
    // Failures and switch-outs up to this row: the instance runs on a new replica.
    while (next_event < events.size() && events[next_event]->at <= row.at) {
      const FleetEvent& e = *events[next_event++];
      tracker.Forget(instance);
      replica_start = e.at;
      if (e.kind != kSwitchedOutKind) {
        failures.push_back(e.at);
      }
    }
    const int64_t ms = absl::ToUnixMillis(row.at);
    for (size_t m = 0; m < metric_names.size(); ++m) {
      if (!std::isnan(row.values[m])) {
        tracker.OnFeature(instance, metric_names[m], ms, row.values[m], limit[m]);
      }
    }
    InstanceSignals signals = tracker.Snapshot(instance);
    signals.instance_id = instance;
    signals.as_of = row.at;
    signals.age_hours = absl::ToDoubleHours(row.at - replica_start);
    signals.restarts_recent = std::count_if(failures.begin(), failures.end(), [&](absl::Time f) {
      return f > row.at - kRestartWindow;
    });
    out.push_back({&row, features.Extract(signals)});
  }
  return out;
}

InstanceHistory HistoryOf(const std::vector<FleetEvent>& events) {
  InstanceHistory history;
  for (const FleetEvent& e : events) {
    history[e.instance].push_back({e.kind == kSwitchedOutKind ? InstanceEvent::Type::kSwitchedOut
                                                              : InstanceEvent::Type::kFailure,
                                   e.at, e.kind});
  }
  return history;
}

nlohmann::json Scores(const std::vector<double>& p, const std::vector<float>& y) {
  std::vector<double> labels(y.begin(), y.end());
  size_t flagged = 0, hits = 0, positives = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    bool flag = p[i] >= kDecisionThreshold;
    flagged += flag ? 1 : 0;
    positives += labels[i] > 0 ? 1 : 0;
    hits += flag && labels[i] > 0 ? 1 : 0;
  }
  return {{"brier", BrierScore(p, labels)},
          {"logLoss", LogLoss(p, labels)},
          {"precision", static_cast<double>(hits) / std::max<size_t>(1, flagged)},
          {"recall", static_cast<double>(hits) / std::max<size_t>(1, positives)}};
}

// Trains on the older examples (those whose horizon ends before the cut) and scores the newest
// share, against the prior on the same rows.
absl::StatusOr<nlohmann::json> Validate(const LabelledSet& labelled, const RiskFeatures& features,
                                        const OfflineRiskOptions& options) {
  TimeSplit split = SplitByTime(labelled, options.holdout_fraction, options.horizon);
  const LabelledSet& train = split.train;
  const LabelledSet& holdout = split.holdout;
  nlohmann::json out = {{"examples", holdout.size()},
                        {"positives", holdout.positives()},
                        {"trainExamples", train.size()},
                        {"trainPositives", train.positives()}};
  if (holdout.positives() == 0 || train.positives() < options.min_positives) {
    out["skipped"] = "too few failures on one side of the time split";
    return out;
  }
  absl::StatusOr<TrainedRiskClassifier> trained = TrainRiskClassifier(train, options.training);
  if (absl::IsFailedPrecondition(trained.status())) {
    out["skipped"] = std::string(trained.status().message());
    return out;
  }
  SF_RETURN_IF_ERROR(trained.status());
  GbmRiskModel model(std::move(trained->gbm), std::move(trained->calibration), features,
                     options.horizon, "validation");
  SF_ASSIGN_OR_RETURN(std::vector<double> p, model.Probabilities(holdout.x));
  PriorRiskModel prior(options.horizon);
  std::vector<double> prior_p;
  for (size_t i = 0; i < holdout.size(); ++i) {
    prior_p.push_back(prior.Assess(features.ToSignals(holdout.x.row(i))).probability);
  }
  out["model"] = Scores(p, holdout.y);
  out["prior"] = Scores(prior_p, holdout.y);
  return out;
}

}  // namespace

std::map<std::string, double> DefaultMetricLimits() {
  return {{"memory_used_ratio", 1.0}, {"disk_used_ratio", 1.0}, {"process_memory_ratio", 1.0}};
}

std::map<std::string, std::vector<ReplayedRow>> ReplayFleet(
    const FleetMetrics& metrics, const std::vector<FleetEvent>& events,
    const std::map<std::string, double>& limits, const RiskFeatures& features, int workers) {
  std::vector<const std::string*> instances;
  for (const auto& [instance, rows] : metrics.instances) {
    instances.push_back(&instance);
  }
  std::vector<std::vector<ReplayedRow>> replayed(instances.size());
  ParallelFor(instances.size(), workers, [&](size_t i) {
    std::vector<const FleetEvent*> own;
    for (const FleetEvent& e : events) {
      if (e.instance == *instances[i]) {
        own.push_back(&e);
      }
    }
    replayed[i] = ReplayInstance(*instances[i], metrics.instances.at(*instances[i]),
                                 metrics.metrics, own, limits, features);
  });
  std::map<std::string, std::vector<ReplayedRow>> out;
  for (size_t i = 0; i < instances.size(); ++i) {
    out[*instances[i]] = std::move(replayed[i]);
  }
  return out;
}

absl::StatusOr<nlohmann::json> TrainRiskModelFromFiles(const std::string& metrics_path,
                                                       const std::string& failures_path,
                                                       const std::string& model_path,
                                                       const OfflineRiskOptions& options) {
  SF_ASSIGN_OR_RETURN(FleetMetrics metrics, ReadFleetMetrics(metrics_path));
  SF_ASSIGN_OR_RETURN(std::vector<FleetEvent> events, ReadFleetEvents(failures_path));
  std::map<std::string, double> limits = DefaultMetricLimits();
  for (const auto& [metric, limit] : options.limits) {
    limits[metric] = limit;
  }
  RiskFeatures features(metrics.metrics);

  std::vector<RiskExample> examples;
  for (auto& [instance, rows] : ReplayFleet(metrics, events, limits, features, options.workers)) {
    for (ReplayedRow& r : rows) {
      examples.push_back({instance, r.row->at, std::move(r.features)});
    }
  }
  LabelledSet labelled =
      LabelExamples(examples, features.size(), options.horizon, HistoryOf(events), metrics.end);
  int unknown_instances = 0;
  for (const FleetEvent& e : events) {
    unknown_instances += metrics.instances.count(e.instance) == 0 ? 1 : 0;
  }
  if (labelled.positives() < options.min_positives) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: %d rows fall within %s before a failure; at least %d are needed to train",
        failures_path, labelled.positives(), absl::FormatDuration(options.horizon),
        options.min_positives));
  }

  SF_ASSIGN_OR_RETURN(nlohmann::json validation, Validate(labelled, features, options));
  SF_ASSIGN_OR_RETURN(TrainedRiskClassifier trained,
                      TrainRiskClassifier(labelled, options.training));
  std::string version = options.version;
  if (version.empty()) {
    version = absl::StrCat("offline-",
                           absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(), absl::UTCTimeZone()));
  }
  nlohmann::json training_metrics = trained.metrics;
  GbmRiskModel model(std::move(trained.gbm), std::move(trained.calibration), features,
                     options.horizon, version);
  SF_ASSIGN_OR_RETURN(nlohmann::json stored, model.ToJson());
  nlohmann::json summary = {
      {"model", model_path},
      {"version", version},
      {"horizonSeconds", absl::ToDoubleSeconds(options.horizon)},
      {"instances", metrics.instances.size()},
      {"rows", metrics.rows()},
      {"features", features.size()},
      {"failures", events.size()},
      {"eventsOfUnknownInstances", unknown_instances},
      {"labelled",
       {{"examples", labelled.size()},
        {"positives", labelled.positives()},
        {"censored", labelled.censored}}},
      {"training", training_metrics},
      {"validation", validation},
  };
  stored["limits"] = limits;
  stored["trainedOn"] = {{"metrics", metrics_path}, {"failures", failures_path}};
  stored["metrics"] = summary;
  SF_RETURN_IF_ERROR(WriteFileAtomically(model_path, stored.dump()));
  return summary;
}

absl::StatusOr<nlohmann::json> ScoreRiskFromFiles(const std::string& model_path,
                                                  const std::string& metrics_path,
                                                  const std::string& output_path,
                                                  const std::string& failures_path, int workers) {
  SF_ASSIGN_OR_RETURN(std::string text, ReadFile(model_path));
  nlohmann::json stored = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (stored.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(model_path, ": not a JSON model file"));
  }
  absl::StatusOr<std::unique_ptr<GbmRiskModel>> model = GbmRiskModel::FromJson(stored, workers);
  if (!model.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(model_path, ": ", model.status().message()));
  }
  std::map<std::string, double> limits = DefaultMetricLimits();
  if (stored.contains("limits") && stored["limits"].is_object()) {
    for (const auto& [metric, limit] : stored["limits"].items()) {
      if (limit.is_number()) {
        limits[metric] = limit.get<double>();
      }
    }
  }
  SF_ASSIGN_OR_RETURN(FleetMetrics metrics, ReadFleetMetrics(metrics_path));
  std::vector<FleetEvent> events;
  if (!failures_path.empty()) {
    SF_ASSIGN_OR_RETURN(events, ReadFleetEvents(failures_path));
  }
  const RiskFeatures& features = (*model)->features();
  std::vector<std::string> missing;
  for (const std::string& m : features.metrics()) {
    if (std::find(metrics.metrics.begin(), metrics.metrics.end(), m) == metrics.metrics.end()) {
      missing.push_back(m);
    }
  }

  // Score every row in one batch, then write them back in file order.
  struct Scored {
    const std::string* instance;
    const MetricRow* row;
    RiskAssessment assessment;
  };
  std::map<std::string, std::vector<ReplayedRow>> replayed =
      ReplayFleet(metrics, events, limits, features, workers);
  DenseMatrix x(features.size());
  x.Reserve(metrics.rows());
  std::vector<Scored> scored;
  for (const auto& [instance, rows] : replayed) {
    for (const ReplayedRow& r : rows) {
      x.AddRow(r.features);
      scored.push_back({&instance, r.row, {}});
    }
  }
  SF_ASSIGN_OR_RETURN(std::vector<RiskAssessment> assessments, (*model)->AssessRows(x));
  for (size_t i = 0; i < scored.size(); ++i) {
    scored[i].assessment = std::move(assessments[i]);
  }
  std::sort(scored.begin(), scored.end(),
            [](const Scored& a, const Scored& b) { return a.row->line < b.row->line; });

  std::string out = "instance,timestamp,risk,top_factor\n";
  size_t above = 0;
  for (const Scored& s : scored) {
    const RiskAssessment& a = s.assessment;
    above += a.probability >= kSwitchoverThreshold ? 1 : 0;
    absl::StrAppend(&out, CsvQuote(*s.instance), ",", CsvQuote(s.row->timestamp), ",",
                    absl::StrFormat("%.6f", a.probability), ",",
                    CsvQuote(a.top_factors.empty() ? "" : a.top_factors[0].description), "\n");
  }
  SF_RETURN_IF_ERROR(WriteFileAtomically(output_path, out));
  return nlohmann::json{{"model", model_path},
                        {"version", (*model)->version()},
                        {"output", output_path},
                        {"instances", metrics.instances.size()},
                        {"rows", scored.size()},
                        {"switchoverThreshold", kSwitchoverThreshold},
                        {"rowsAtOrAboveThreshold", above},
                        {"metricsMissing", missing}};
}

}  // namespace shadowfleet

#include "shadowfleet/prediction/model_registry.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <numeric>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "shadowfleet/common/compression.h"
#include "shadowfleet/common/logging.h"
#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/prediction/gbm_risk_model.h"

namespace shadowfleet {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static auto logger = Logger("risk");
  return logger;
}

// Examples of one instance are stored as chunks: a header (magic, format, the fingerprint of
// the feature names, feature count, example count), then per example its time in unix ms and
// its features as floats, all zlib-compressed. Byte order is the host's: a store is read by
// daemons of one architecture.
constexpr char kChunkMagic[4] = {'S', 'F', 'R', 'X'};
constexpr uint8_t kChunkFormat = 1;

// Events are few (failures and switch-outs), so they are read in one query.
constexpr int kMaxEvents = 1'000'000;
// The drift check needs this many recent examples to say anything.
constexpr size_t kMinDriftExamples = 50;

int64_t Ms(absl::Time t) {
  return absl::ToUnixMillis(t);
}

// FNV-1a of the feature names: vectors made for another feature list are not mixed in.
uint64_t Fingerprint(const std::vector<std::string>& names) {
  uint64_t h = 1469598103934665603ull;
  for (const std::string& name : names) {
    for (char c : name + "\n") {
      h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    }
  }
  return h;
}

template <typename T>
void Put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

template <typename T>
bool Take(const std::string& in, size_t& pos, T* value) {
  if (pos + sizeof(T) > in.size()) {
    return false;
  }
  std::memcpy(value, in.data() + pos, sizeof(T));
  pos += sizeof(T);
  return true;
}

std::string EncodeExamples(uint64_t fingerprint, size_t features,
                           const std::vector<RiskExample>& examples) {
  std::string raw(kChunkMagic, sizeof(kChunkMagic));
  Put<uint8_t>(raw, kChunkFormat);
  Put<uint64_t>(raw, fingerprint);
  Put<uint32_t>(raw, static_cast<uint32_t>(features));
  Put<uint32_t>(raw, static_cast<uint32_t>(examples.size()));
  for (const RiskExample& e : examples) {
    Put<int64_t>(raw, Ms(e.at));
    raw.append(reinterpret_cast<const char*>(e.features.data()), features * sizeof(float));
  }
  return Compress(raw);
}

// NOT_FOUND for a chunk of another feature list (skipped by the caller), DATA_LOSS for a
// damaged one.
absl::StatusOr<std::vector<RiskExample>> DecodeExamples(const std::string& instance,
                                                        const std::string& data,
                                                        uint64_t fingerprint, size_t features) {
  SF_ASSIGN_OR_RETURN(std::string raw, Decompress(data));
  size_t pos = sizeof(kChunkMagic);
  uint8_t format = 0;
  uint64_t stored_fingerprint = 0;
  uint32_t stored_features = 0, count = 0;
  if (raw.compare(0, sizeof(kChunkMagic), kChunkMagic, sizeof(kChunkMagic)) != 0 ||
      !Take(raw, pos, &format) || format != kChunkFormat || !Take(raw, pos, &stored_fingerprint) ||
      !Take(raw, pos, &stored_features) || !Take(raw, pos, &count)) {
    return absl::DataLossError(absl::StrCat("risk examples of ", instance, ": bad chunk header"));
  }
  if (stored_fingerprint != fingerprint || stored_features != features) {
    return absl::NotFoundError("examples of another feature list");
  }
  if (raw.size() != pos + static_cast<size_t>(count) * (8 + features * sizeof(float))) {
    return absl::DataLossError(absl::StrCat("risk examples of ", instance, ": truncated chunk"));
  }
  std::vector<RiskExample> out(count);
  for (RiskExample& e : out) {
    int64_t ms = 0;
    Take(raw, pos, &ms);
    e.instance = instance;
    e.at = absl::FromUnixMillis(ms);
    e.features.resize(features);
    std::memcpy(e.features.data(), raw.data() + pos, features * sizeof(float));
    pos += features * sizeof(float);
  }
  return out;
}

absl::Time TimeField(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number_integer() ? absl::FromUnixMillis(j[key].get<int64_t>())
                                                       : absl::InfinitePast();
}

struct Scores {
  double brier = 0;
  double log_loss = 0;
  nlohmann::json ToJson() const { return {{"brier", brier}, {"logLoss", log_loss}}; }
};

Scores Score(const std::vector<double>& p, const std::vector<float>& y) {
  std::vector<double> labels(y.begin(), y.end());
  return {BrierScore(p, labels), LogLoss(p, labels)};
}

}  // namespace

nlohmann::json RetrainResult::ToJson() const {
  nlohmann::json j = {{"trigger", trigger}, {"trained", trained}, {"promoted", promoted},
                      {"version", version}, {"reason", reason},   {"metrics", metrics}};
  if (!drift_feature.empty()) {
    j["drift"] = {{"psi", drift}, {"feature", drift_feature}};
  }
  return j;
}

ModelRegistry::ModelRegistry(Store* store, const Clock* clock, ModelRegistryOptions options)
    : store_(store),
      clock_(clock),
      options_(std::move(options)),
      features_(options_.metrics),
      prior_(std::make_shared<PriorRiskModel>(options_.horizon)) {}

ModelRegistry::~ModelRegistry() = default;

std::shared_ptr<const RiskModel> ModelRegistry::Current() const {
  absl::MutexLock lock(&mu_);
  if (served_.model != nullptr) {
    return served_.model;
  }
  return prior_;
}

ModelRegistryStats ModelRegistry::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void ModelRegistry::CountWriteError(const absl::Status& status, const char* what) {
  if (status.ok()) {
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    ++stats_.write_errors;
  }
  Log()->warn("risk learner write failed what={} error=\"{}\"", what,
              std::string(status.message()));
}

// --- Recording ------------------------------------------------------------------------------

void ModelRegistry::RecordExample(const InstanceSignals& signals, absl::Time at) {
  if (signals.instance_id.empty()) {
    return;
  }
  std::vector<float> row = features_.Extract(signals);
  std::vector<RiskExample> full;
  {
    absl::MutexLock lock(&mu_);
    Buffer& buffer = buffers_[signals.instance_id];
    if (at - buffer.last < options_.example_interval) {
      ++stats_.examples_too_soon;
      return;
    }
    buffer.last = at;
    buffer.examples.push_back({signals.instance_id, at, std::move(row)});
    ++stats_.examples;
    if (buffer.examples.size() >= options_.examples_per_chunk) {
      full.swap(buffer.examples);
    }
  }
  if (!full.empty()) {
    CountWriteError(WriteChunk(signals.instance_id, std::move(full)), "examples");
  }
}

void ModelRegistry::RecordFailure(const std::string& instance_id, absl::Time at,
                                  const std::string& kind) {
  {
    absl::MutexLock lock(&mu_);
    ++stats_.failures;
  }
  CountWriteError(AppendEvent(kRiskFailureEvent, instance_id, at, kind), "failure");
}

void ModelRegistry::RecordCensored(const std::string& instance_id, absl::Time at) {
  {
    absl::MutexLock lock(&mu_);
    ++stats_.switch_outs;
  }
  CountWriteError(AppendEvent(kRiskSwitchedOutEvent, instance_id, at, "switched out"),
                  "switch-out");
}

absl::Status ModelRegistry::Flush() {
  std::map<std::string, std::vector<RiskExample>> pending;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [instance, buffer] : buffers_) {
      if (!buffer.examples.empty()) {
        pending[instance].swap(buffer.examples);
      }
    }
  }
  absl::Status result;
  for (auto& [instance, examples] : pending) {
    absl::Status s = WriteChunk(instance, std::move(examples));
    CountWriteError(s, "examples");
    result.Update(s);
  }
  return result;
}

absl::Status ModelRegistry::WriteChunk(const std::string& instance,
                                       std::vector<RiskExample> examples) {
  WriteBatch batch;
  batch.PutChunk({absl::StrCat(kRiskExampleSeriesPrefix, instance), Ms(examples.front().at),
                  Ms(examples.back().at), static_cast<int>(examples.size()),
                  EncodeExamples(Fingerprint(features_.names()), features_.size(), examples)});
  // A new instance joins the stored list in the same transaction as its first examples.
  absl::MutexLock writes(&chunk_mu_);
  bool added = false;
  {
    absl::MutexLock lock(&mu_);
    added = instances_.insert(instance).second;
    if (added) {
      batch.Put(kRiskRegistryObject, "instances", nlohmann::json(instances_).dump(), kAnyRevision);
    }
  }
  absl::Status status = store_->Commit(batch).status();
  if (!status.ok() && added) {
    absl::MutexLock lock(&mu_);
    instances_.erase(instance);  // Listed again with its next chunk.
  }
  return status;
}

absl::Status ModelRegistry::AppendEvent(const std::string& kind, const std::string& instance,
                                        absl::Time at, const std::string& detail) {
  WriteBatch batch;
  EventRecord event;
  event.time_ms = Ms(at);
  event.kind = kind;
  event.subject = instance;
  event.actor = "risk";
  event.message = detail;
  event.details = nlohmann::json{{"kind", detail}}.dump();
  batch.AppendEvent(event);
  return store_->Commit(batch).status();
}

// --- Reading --------------------------------------------------------------------------------

absl::StatusOr<std::vector<RiskExample>> ModelRegistry::ReadExamples(absl::Time from,
                                                                     absl::Time to) const {
  std::set<std::string> instances;
  {
    absl::MutexLock lock(&mu_);
    instances = instances_;
  }
  SF_ASSIGN_OR_RETURN(std::set<std::string> stored, StoredInstances());
  instances.insert(stored.begin(), stored.end());
  std::vector<ChunkRecord> chunks;
  for (const std::string& instance : instances) {
    SF_ASSIGN_OR_RETURN(
        std::vector<ChunkRecord> own,
        store_->ReadChunks(absl::StrCat(kRiskExampleSeriesPrefix, instance), Ms(from), Ms(to)));
    std::move(own.begin(), own.end(), std::back_inserter(chunks));
  }
  const uint64_t fingerprint = Fingerprint(features_.names());
  std::vector<RiskExample> out;
  int other_features = 0;
  for (const ChunkRecord& chunk : chunks) {
    if (!absl::StartsWith(chunk.series, kRiskExampleSeriesPrefix)) {
      continue;
    }
    std::string instance = chunk.series.substr(std::strlen(kRiskExampleSeriesPrefix));
    absl::StatusOr<std::vector<RiskExample>> examples =
        DecodeExamples(instance, chunk.data, fingerprint, features_.size());
    if (absl::IsNotFound(examples.status())) {
      ++other_features;
      continue;
    }
    if (!examples.ok()) {
      return examples.status();
    }
    for (RiskExample& e : *examples) {
      if (e.at >= from && e.at <= to) {
        out.push_back(std::move(e));
      }
    }
  }
  if (other_features > 0) {
    Log()->info("risk examples of another feature list skipped chunks={}", other_features);
  }
  return out;
}

absl::StatusOr<std::set<std::string>> ModelRegistry::StoredInstances() const {
  SF_ASSIGN_OR_RETURN(std::optional<ObjectRecord> record,
                      store_->Get(kRiskRegistryObject, "instances"));
  std::set<std::string> out;
  if (record) {
    nlohmann::json list = nlohmann::json::parse(record->value, nullptr, false);
    for (const nlohmann::json& id : list.is_array() ? list : nlohmann::json::array()) {
      if (id.is_string()) {
        out.insert(id.get<std::string>());
      }
    }
  }
  return out;
}

absl::StatusOr<InstanceHistory> ModelRegistry::ReadHistory(int64_t* failures) const {
  SF_ASSIGN_OR_RETURN(std::vector<EventRecord> events,
                      store_->ListEvents({.kind_prefix = "risk.", .limit = kMaxEvents}));
  InstanceHistory history;
  *failures = 0;
  for (const EventRecord& e : events) {
    InstanceEvent event;
    event.at = absl::FromUnixMillis(e.time_ms);
    event.kind = e.message;
    if (e.kind == kRiskFailureEvent) {
      event.type = InstanceEvent::Type::kFailure;
      ++*failures;
    } else if (e.kind == kRiskSwitchedOutEvent) {
      event.type = InstanceEvent::Type::kSwitchedOut;
    } else {
      continue;
    }
    history[e.subject].push_back(event);
  }
  for (auto& [instance, list] : history) {
    std::stable_sort(list.begin(), list.end(),
                     [](const InstanceEvent& a, const InstanceEvent& b) { return a.at < b.at; });
  }
  return history;
}

// --- State and versions ---------------------------------------------------------------------

absl::Status ModelRegistry::SaveState(const State& state) {
  WriteBatch batch;
  batch.Put(kRiskRegistryObject, "state",
            nlohmann::json{{"lastTrainingMs", Ms(state.last_training)},
                           {"lastCheckMs", Ms(state.last_check)},
                           {"failuresAtLastTraining", state.failures_at_last_training}}
                .dump(),
            kAnyRevision);
  return store_->Commit(batch).status();
}

absl::Status ModelRegistry::Load() {
  const absl::Time now = clock_->Now();
  SF_ASSIGN_OR_RETURN(std::optional<ObjectRecord> stored_state,
                      store_->Get(kRiskRegistryObject, "state"));
  State state;
  if (stored_state) {
    nlohmann::json j = nlohmann::json::parse(stored_state->value, nullptr, false);
    state.last_training = TimeField(j, "lastTrainingMs");
    state.last_check = TimeField(j, "lastCheckMs");
    state.failures_at_last_training = j.value("failuresAtLastTraining", int64_t{0});
  } else {
    // A new registry: the schedule starts now.
    state.last_training = now;
    state.last_check = now;
    SF_RETURN_IF_ERROR(SaveState(state));
  }
  SF_ASSIGN_OR_RETURN(std::set<std::string> instances, StoredInstances());
  {
    absl::MutexLock lock(&mu_);
    state_ = state;
    instances_.insert(instances.begin(), instances.end());
  }

  SF_ASSIGN_OR_RETURN(std::optional<ObjectRecord> current,
                      store_->Get(kRiskModelCurrentObject, "current"));
  if (!current) {
    Log()->info("risk model in use version={} reason=\"no learnt model promoted yet\"",
                PriorRiskModel::kVersion);
    return absl::OkStatus();
  }
  nlohmann::json pointer = nlohmann::json::parse(current->value, nullptr, false);
  std::string version = pointer.is_object() ? pointer.value("version", "") : "";
  absl::StatusOr<Served> served = LoadVersion(version);
  if (!served.ok()) {
    Log()->warn("risk model does not load, the prior stays in use version={} error=\"{}\"", version,
                std::string(served.status().message()));
    return absl::DataLossError(
        absl::StrCat("risk model ", version, ": ", served.status().message()));
  }
  Log()->info("risk model in use version={}", version);
  absl::MutexLock lock(&mu_);
  served_ = *std::move(served);
  return absl::OkStatus();
}

absl::StatusOr<ModelRegistry::Served> ModelRegistry::LoadVersion(const std::string& version) const {
  SF_ASSIGN_OR_RETURN(std::optional<ObjectRecord> record, store_->Get(kRiskModelObject, version));
  if (!record) {
    return absl::NotFoundError(absl::StrCat("no stored risk model \"", version, "\""));
  }
  nlohmann::json j = nlohmann::json::parse(record->value, nullptr, false);
  SF_ASSIGN_OR_RETURN(std::unique_ptr<GbmRiskModel> model,
                      GbmRiskModel::FromJson(j, options_.training.params.nthread));
  Served served;
  if (j.contains("drift") && j["drift"].is_array()) {
    for (const nlohmann::json& h : j["drift"]) {
      SF_ASSIGN_OR_RETURN(FeatureHistogram histogram, FeatureHistogram::FromJson(h));
      served.histograms.push_back(std::move(histogram));
    }
  }
  served.model = std::shared_ptr<const RiskModel>(std::move(model));
  return served;
}

absl::StatusOr<std::vector<ModelVersionInfo>> ModelRegistry::Versions() const {
  SF_ASSIGN_OR_RETURN(std::vector<ObjectRecord> records, store_->List(kRiskModelObject));
  SF_ASSIGN_OR_RETURN(std::optional<ObjectRecord> current,
                      store_->Get(kRiskModelCurrentObject, "current"));
  std::string serving;
  if (current) {
    nlohmann::json pointer = nlohmann::json::parse(current->value, nullptr, false);
    serving = pointer.is_object() ? pointer.value("version", "") : "";
  }
  std::vector<ModelVersionInfo> out;
  for (const ObjectRecord& r : records) {
    nlohmann::json j = nlohmann::json::parse(r.value, nullptr, false);
    if (!j.is_object()) {
      continue;
    }
    ModelVersionInfo info;
    info.version = r.name;
    info.created = TimeField(j, "createdAtMs");
    info.promoted = j.value("promoted", false);
    info.current = r.name == serving;
    info.reason = j.value("reason", "");
    info.metrics = j.value("metrics", nlohmann::json::object());
    const nlohmann::json window = j.value("trainingWindow", nlohmann::json::object());
    info.window_start = TimeField(window, "fromMs");
    info.window_end = TimeField(window, "toMs");
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(), [](const ModelVersionInfo& a, const ModelVersionInfo& b) {
    return a.version < b.version;
  });
  return out;
}

// --- Training -------------------------------------------------------------------------------

absl::StatusOr<std::pair<double, std::string>> ModelRegistry::Drift(absl::Time now) const {
  std::vector<FeatureHistogram> histograms;
  {
    absl::MutexLock lock(&mu_);
    histograms = served_.histograms;
  }
  if (histograms.size() != features_.size()) {
    return std::pair<double, std::string>(0.0, "");
  }
  SF_ASSIGN_OR_RETURN(std::vector<RiskExample> recent,
                      ReadExamples(now - options_.drift_window, now));
  if (recent.size() < kMinDriftExamples) {
    return std::pair<double, std::string>(0.0, "");
  }
  std::pair<double, std::string> worst(0.0, "");
  std::vector<float> column(recent.size());
  for (size_t f = 0; f < features_.size(); ++f) {
    for (size_t i = 0; i < recent.size(); ++i) {
      column[i] = recent[i].features[f];
    }
    double psi = histograms[f].Psi(column);
    if (psi > worst.first) {
      worst = {psi, features_.names()[f]};
    }
  }
  return worst;
}

absl::StatusOr<RetrainResult> ModelRegistry::RetrainIfDue() {
  absl::MutexLock training(&train_mu_);
  const absl::Time now = clock_->Now();
  State state;
  bool learnt = false;
  {
    absl::MutexLock lock(&mu_);
    state = state_;
    learnt = served_.model != nullptr;
  }
  if (now - state.last_training >= options_.retrain_interval) {
    return Train("schedule", now);
  }
  if (now - state.last_check < options_.check_interval) {
    return RetrainResult{.reason = "not due"};
  }
  state.last_check = now;
  SF_RETURN_IF_ERROR(SaveState(state));
  {
    absl::MutexLock lock(&mu_);
    state_.last_check = now;
  }

  if (!learnt) {
    // Under the prior, every new failure is worth a training attempt.
    int64_t failures = 0;
    SF_ASSIGN_OR_RETURN(InstanceHistory history, ReadHistory(&failures));
    if (failures > state.failures_at_last_training) {
      return Train("failures", now);
    }
    return RetrainResult{.reason = "no new failures since the last training"};
  }
  SF_ASSIGN_OR_RETURN(auto drift, Drift(now));
  if (drift.first > options_.drift_threshold) {
    SF_ASSIGN_OR_RETURN(RetrainResult result, Train("drift", now));
    result.drift = drift.first;
    result.drift_feature = drift.second;
    return result;
  }
  RetrainResult result{.reason = "features have not drifted"};
  result.drift = drift.first;
  result.drift_feature = drift.second;
  return result;
}

absl::StatusOr<RetrainResult> ModelRegistry::Retrain(const std::string& trigger) {
  absl::MutexLock training(&train_mu_);
  return Train(trigger, clock_->Now());
}

absl::StatusOr<RetrainResult> ModelRegistry::Train(const std::string& trigger, absl::Time now) {
  RetrainResult result{.trigger = trigger};
  SF_RETURN_IF_ERROR(Flush());
  SF_ASSIGN_OR_RETURN(std::vector<RiskExample> examples,
                      ReadExamples(now - options_.training_window, now));
  int64_t failures = 0;
  SF_ASSIGN_OR_RETURN(InstanceHistory history, ReadHistory(&failures));
  LabelledSet labelled = LabelExamples(examples, features_.size(), options_.horizon, history, now);

  // Whatever happens next, this was the attempt: the schedule restarts from now.
  State state;
  {
    absl::MutexLock lock(&mu_);
    state_.last_training = now;
    state_.last_check = now;
    state_.failures_at_last_training = failures;
    state = state_;
  }
  SF_RETURN_IF_ERROR(SaveState(state));

  result.metrics["labelled"] = {{"examples", labelled.size()},
                                {"positives", labelled.positives()},
                                {"censored", labelled.censored}};
  if (labelled.size() < options_.min_examples || labelled.positives() < options_.min_positives) {
    result.reason = absl::StrFormat(
        "too little data: %d labelled examples with %d failures (%d and %d needed)",
        labelled.size(), labelled.positives(), options_.min_examples, options_.min_positives);
    return result;
  }

  // The newest share of examples by time is held back for the promotion check.
  const TimeSplit split = SplitByTime(labelled, options_.holdout_fraction, options_.horizon);
  const LabelledSet& train = split.train;
  const LabelledSet& holdout = split.holdout;
  result.metrics["holdout"] = {{"examples", holdout.size()},
                               {"positives", holdout.positives()},
                               {"fromMs", Ms(split.cut)},
                               {"toMs", Ms(now)}};
  if (holdout.positives() == 0 || train.positives() < options_.min_positives) {
    result.reason =
        absl::StrFormat("too few failures on one side of the split: %d in training, %d held back",
                        train.positives(), holdout.positives());
    return result;
  }
  absl::StatusOr<TrainedRiskClassifier> trained = TrainRiskClassifier(train, options_.training);
  if (absl::IsFailedPrecondition(trained.status())) {
    result.reason = std::string(trained.status().message());
    return result;
  }
  SF_RETURN_IF_ERROR(trained.status());
  SF_ASSIGN_OR_RETURN(std::vector<ObjectRecord> existing, store_->List(kRiskModelObject));
  result.version = absl::StrFormat("gbm-%06d", existing.size() + 1);
  auto candidate =
      std::make_shared<GbmRiskModel>(std::move(trained->gbm), std::move(trained->calibration),
                                     features_, options_.horizon, result.version);
  result.trained = true;

  // The candidate against the model in use (or the prior) on the held-back examples.
  SF_ASSIGN_OR_RETURN(std::vector<double> candidate_p, candidate->Probabilities(holdout.x));
  std::shared_ptr<const RiskModel> incumbent;
  SF_ASSIGN_OR_RETURN(std::vector<double> incumbent_p, IncumbentProbabilities(holdout, &incumbent));
  const Scores c = Score(candidate_p, holdout.y);
  const Scores b = Score(incumbent_p, holdout.y);
  result.promoted = c.brier <= b.brier + options_.brier_margin &&
                    c.log_loss <= b.log_loss + options_.log_loss_margin;
  result.reason =
      absl::StrFormat("%s on held-back data: Brier %.5f vs %.5f, log loss %.4f vs %.4f (%s)",
                      result.promoted ? "no worse than" : "worse than", c.brier, b.brier,
                      c.log_loss, b.log_loss, incumbent->version());
  result.metrics["candidate"] = c.ToJson();
  result.metrics["incumbent"] = b.ToJson();
  result.metrics["incumbent"]["version"] = incumbent->version();
  result.metrics["training"] = trained->metrics;

  SF_RETURN_IF_ERROR(StoreCandidate(candidate, train, result, split.cut, now));
  Log()->info(
      "risk model trained version={} trigger={} promoted={} examples={} failures={} "
      "brier={:.5f} incumbent_brier={:.5f} incumbent={}",
      result.version, trigger, result.promoted, train.size(), train.positives(), c.brier, b.brier,
      incumbent->version());
  return result;
}

absl::StatusOr<std::vector<double>> ModelRegistry::IncumbentProbabilities(
    const LabelledSet& holdout, std::shared_ptr<const RiskModel>* incumbent) const {
  *incumbent = Current();
  auto* learnt = dynamic_cast<const GbmRiskModel*>(incumbent->get());
  if (learnt != nullptr && learnt->features().names() == features_.names()) {
    return learnt->Probabilities(holdout.x);
  }
  // The prior, or a learnt model of another feature list that cannot read these vectors.
  *incumbent = prior_;
  std::vector<double> p;
  for (size_t i = 0; i < holdout.size(); ++i) {
    p.push_back(prior_->Assess(features_.ToSignals(holdout.x.row(i))).probability);
  }
  return p;
}

absl::Status ModelRegistry::StoreCandidate(std::shared_ptr<const GbmRiskModel> candidate,
                                           const LabelledSet& train, const RetrainResult& result,
                                           absl::Time cut, absl::Time now) {
  // The training data's distribution of every feature, for later drift checks.
  std::vector<FeatureHistogram> histograms;
  nlohmann::json drift = nlohmann::json::array();
  std::vector<float> column(train.size());
  for (size_t f = 0; f < features_.size(); ++f) {
    for (size_t i = 0; i < train.size(); ++i) {
      column[i] = train.x.at(i, f);
    }
    histograms.push_back(FeatureHistogram::Fit(column));
    drift.push_back(histograms.back().ToJson());
  }

  // Every version is kept, promoted or not, with what it was judged on.
  SF_ASSIGN_OR_RETURN(nlohmann::json stored, candidate->ToJson());
  stored["createdAtMs"] = Ms(now);
  stored["trigger"] = result.trigger;
  stored["promoted"] = result.promoted;
  stored["reason"] = result.reason;
  stored["metrics"] = result.metrics;
  stored["trainingWindow"] = {{"fromMs", Ms(now - options_.training_window)}, {"toMs", Ms(cut)}};
  stored["drift"] = drift;
  WriteBatch batch;
  batch.Put(kRiskModelObject, result.version, stored.dump(), kMustNotExist);
  if (result.promoted) {
    SF_ASSIGN_OR_RETURN(std::optional<ObjectRecord> pointer,
                        store_->Get(kRiskModelCurrentObject, "current"));
    batch.Put(kRiskModelCurrentObject, "current",
              nlohmann::json{{"version", result.version}}.dump(),
              pointer ? pointer->revision : kMustNotExist);
    EventRecord event;
    event.time_ms = Ms(now);
    event.kind = "risk.model.promoted";
    event.subject = result.version;
    event.actor = "risk";
    event.message = result.reason;
    batch.AppendEvent(event);
  }
  SF_RETURN_IF_ERROR(store_->Commit(batch).status());

  if (result.promoted) {
    absl::MutexLock lock(&mu_);
    served_ = {std::move(candidate), std::move(histograms)};
  }
  return absl::OkStatus();
}

}  // namespace shadowfleet

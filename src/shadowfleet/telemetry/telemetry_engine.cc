#include "shadowfleet/telemetry/telemetry_engine.h"

#include <cmath>
#include <limits>
#include <regex>

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/http_client.h"
#include "shadowfleet/common/logging.h"
#include "shadowfleet/common/parallel.h"
#include "shadowfleet/telemetry/exposition_parser.h"
#include "shadowfleet/telemetry/series_history.h"

namespace shadowfleet {
namespace {

constexpr size_t kMaxProblems = 10;

struct Matcher {
  enum class Op { kEqual, kNotEqual, kMatch, kNotMatch };
  std::string label;
  Op op = Op::kEqual;
  std::string value;
  std::regex re;

  bool Matches(const std::vector<LabelView>& labels) const {
    std::string actual;
    for (const LabelView& l : labels) {
      if (l.name == label) {
        actual = UnescapeLabelValue(l.value);
        break;
      }
    }
    switch (op) {
      case Op::kEqual:
        return actual == value;
      case Op::kNotEqual:
        return actual != value;
      case Op::kMatch:
        return std::regex_match(actual, re);
      case Op::kNotMatch:
        return !std::regex_match(actual, re);
    }
    return false;
  }
};

Matcher Compile(const std::string& label, const std::string& pattern) {
  Matcher m;
  m.label = label;
  if (pattern.rfind("!~", 0) == 0) {
    m.op = Matcher::Op::kNotMatch;
    m.re = std::regex(pattern.substr(2));
  } else if (pattern.rfind("~", 0) == 0) {
    m.op = Matcher::Op::kMatch;
    m.re = std::regex(pattern.substr(1));
  } else if (pattern.rfind("!", 0) == 0) {
    m.op = Matcher::Op::kNotEqual;
    m.value = pattern.substr(1);
  } else {
    m.value = pattern;
  }
  return m;
}

bool IsCounterName(std::string_view name) {
  auto ends_with = [name](std::string_view suffix) {
    return name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
  };
  return ends_with("_total") || ends_with("_count") || ends_with("_sum") || ends_with("_bucket");
}

std::string_view FamilyOf(std::string_view name) {
  for (std::string_view suffix : {"_bucket", "_count", "_sum", "_total"}) {
    if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix) {
      return name.substr(0, name.size() - suffix.size());
    }
  }
  return name;
}

void Note(IngestResult& result, RejectReason reason, const std::string& problem) {
  result.rejected[static_cast<int>(reason)]++;
  if (!problem.empty() && result.problems.size() < kMaxProblems) {
    result.problems.push_back(problem);
  }
}

}  // namespace

const char* RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kParseError:
      return "parse_error";
    case RejectReason::kNotFinite:
      return "not_finite";
    case RejectReason::kOutOfOrder:
      return "out_of_order";
    case RejectReason::kDuplicateTimestamp:
      return "duplicate_timestamp";
    case RejectReason::kCounterReset:
      return "counter_reset";
    case RejectReason::kUnknownInstance:
      return "unknown_instance";
    case RejectReason::kSeriesLimit:
      return "series_limit";
  }
  return "unknown";
}

int IngestResult::rejected_total() const {
  int total = 0;
  for (int n : rejected) {
    total += n;
  }
  return total;
}

struct TelemetryEngine::CompiledFeatures {
  struct Term {
    std::string metric;
    std::vector<Matcher> matchers;
    bool rate = false;
    MetricTermSpec::Aggregate aggregate = MetricTermSpec::Aggregate::kSum;
    bool present = false;  // False for an absent denominator.
  };
  std::vector<FeatureSpec> specs;
  std::vector<Term> terms;  // 2 per feature: the term, then its divisor.
  std::unordered_map<std::string, std::vector<int>> terms_by_metric;
};

struct TelemetryEngine::Instance {
  struct Series {
    SeriesHistory history;
    int64_t last_t = std::numeric_limits<int64_t>::min();
    double last_v = 0;
    bool counter = false;
    std::vector<int> terms;
  };
  struct Accumulator {
    double sum = 0;
    double max = -HUGE_VAL;
    double min = HUGE_VAL;
    int count = 0;
  };

  absl::Mutex mu;
  std::string group;
  std::shared_ptr<const CompiledFeatures> features ABSL_GUARDED_BY(mu);
  std::unordered_map<std::string, uint32_t> index ABSL_GUARDED_BY(mu);
  std::vector<Series> series ABSL_GUARDED_BY(mu);
  std::vector<SeriesHistory> feature_history ABSL_GUARDED_BY(mu);
  std::vector<double> feature_latest ABSL_GUARDED_BY(mu);
  int64_t last_feature_t ABSL_GUARDED_BY(mu) = std::numeric_limits<int64_t>::min();
  ExpositionParser parser ABSL_GUARDED_BY(mu);
  std::string key ABSL_GUARDED_BY(mu);
  std::vector<Accumulator> scratch ABSL_GUARDED_BY(mu);
  std::vector<ChunkRecord> closed ABSL_GUARDED_BY(mu);
};

TelemetryEngine::TelemetryEngine(FleetState* state, Store* store, Clock* clock, Metrics* metrics,
                                 FeatureSink* sink, TelemetryOptions options)
    : state_(state),
      store_(store),
      clock_(clock),
      metrics_(metrics),
      sink_(sink),
      options_(options) {}

TelemetryEngine::~TelemetryEngine() = default;

std::shared_ptr<const TelemetryEngine::CompiledFeatures> TelemetryEngine::FeaturesFor(
    const GroupSpec& group) {
  std::vector<FeatureSpec> specs = EffectiveFeatures(group);
  absl::MutexLock lock(&mu_);
  auto it = compiled_.find(group.name);
  if (it != compiled_.end() && it->second->specs.size() == specs.size()) {
    bool same = true;
    for (size_t i = 0; i < specs.size() && same; ++i) {
      const FeatureSpec& a = specs[i];
      const FeatureSpec& b = it->second->specs[i];
      same = a.name == b.name && a.term.metric == b.term.metric && a.term.match == b.term.match &&
             a.term.rate == b.term.rate && a.term.aggregate == b.term.aggregate &&
             a.divide_by.has_value() == b.divide_by.has_value() &&
             (!a.divide_by || (a.divide_by->metric == b.divide_by->metric &&
                               a.divide_by->match == b.divide_by->match &&
                               a.divide_by->rate == b.divide_by->rate)) &&
             a.complement == b.complement && a.scale == b.scale && a.limit == b.limit;
    }
    if (same) {
      return it->second;
    }
  }
  auto compiled = std::make_shared<CompiledFeatures>();
  compiled->specs = specs;
  for (const FeatureSpec& feature : specs) {
    for (int part = 0; part < 2; ++part) {
      const MetricTermSpec* spec =
          part == 0 ? &feature.term : (feature.divide_by ? &*feature.divide_by : nullptr);
      CompiledFeatures::Term term;
      if (spec != nullptr) {
        term.metric = spec->metric;
        for (const auto& [label, pattern] : spec->match) {
          term.matchers.push_back(Compile(label, pattern));
        }
        term.rate = spec->rate;
        term.aggregate = spec->aggregate;
        term.present = true;
        compiled->terms_by_metric[spec->metric].push_back(static_cast<int>(compiled->terms.size()));
      }
      compiled->terms.push_back(std::move(term));
    }
  }
  compiled_[group.name] = compiled;
  return compiled;
}

std::shared_ptr<TelemetryEngine::Instance> TelemetryEngine::InstanceFor(
    const std::string& instance_id, const GroupSpec& group) {
  std::shared_ptr<const CompiledFeatures> features = FeaturesFor(group);
  std::shared_ptr<Instance> instance;
  {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<Instance>& slot = instances_[instance_id];
    if (slot == nullptr) {
      slot = std::make_shared<Instance>();
      slot->group = group.name;
    }
    instance = slot;
  }
  absl::MutexLock lock(&instance->mu);
  if (instance->features != features) {
    // New or changed feature definitions: series roles and feature histories start afresh.
    instance->features = features;
    instance->series.clear();
    instance->index.clear();
    instance->feature_history.assign(features->specs.size(),
                                     SeriesHistory(options_.max_feature_samples));
    instance->feature_latest.assign(features->specs.size(), std::nan(""));
    instance->scratch.assign(features->terms.size(), {});
  }
  return instance;
}

IngestResult TelemetryEngine::Ingest(const std::string& instance_id, std::string_view text,
                                     int64_t now_ms) {
  IngestResult result;
  Cached<InstanceRecord> record = state_->Instance(instance_id);
  std::shared_ptr<const GroupSpec> group =
      record && !record->removed ? state_->Group(record->group) : nullptr;
  if (group == nullptr) {
    ExpositionParser counter;
    int lines = counter.Parse(
        text, [](const SampleView&) {}, [](const ParseProblem&) {});
    result.rejected[static_cast<int>(RejectReason::kUnknownInstance)] = lines;
    result.unknown_instance = true;
    result.problems.push_back("unknown instance \"" + instance_id + "\"");
    Count(result);
    return result;
  }
  std::shared_ptr<Instance> instance = InstanceFor(instance_id, *group);
  struct Emitted {
    std::string feature;
    double value;
    std::optional<double> limit;
  };
  std::vector<Emitted> emitted;
  {
    absl::MutexLock lock(&instance->mu);
    Instance& in = *instance;
    const CompiledFeatures& features = *in.features;
    for (auto& acc : in.scratch) {
      acc = Instance::Accumulator();
    }

    auto on_sample = [&](const SampleView& sample) {
      if (!std::isfinite(sample.value)) {
        Note(result, RejectReason::kNotFinite, "");
        return;
      }
      // The series key: name{label="value",...} with labels in sorted order.
      in.key.assign(sample.name);
      in.key.push_back('{');
      for (const LabelView& l : *sample.labels) {
        in.key.append(l.name);
        in.key.append("=\"");
        in.key.append(l.value);
        in.key.append("\",");
      }
      in.key.push_back('}');
      auto found = in.index.find(in.key);
      uint32_t id = 0;
      if (found == in.index.end()) {
        if (in.series.size() >= options_.max_series_per_instance) {
          Note(result, RejectReason::kSeriesLimit, "");
          return;
        }
        Instance::Series series;
        series.history = SeriesHistory(options_.max_samples_per_series);
        MetricType type = in.parser.TypeOf(sample.name);
        if (type == MetricType::kUntyped) {
          type = in.parser.TypeOf(FamilyOf(sample.name));
        }
        series.counter = type == MetricType::kCounter ||
                         ((type == MetricType::kHistogram || type == MetricType::kSummary ||
                           type == MetricType::kUntyped) &&
                          IsCounterName(sample.name));
        auto terms = features.terms_by_metric.find(std::string(sample.name));
        if (terms != features.terms_by_metric.end()) {
          for (int t : terms->second) {
            bool all = true;
            for (const Matcher& m : features.terms[t].matchers) {
              all = all && m.Matches(*sample.labels);
            }
            if (all) {
              series.terms.push_back(t);
            }
          }
        }
        id = static_cast<uint32_t>(in.series.size());
        in.series.push_back(std::move(series));
        in.index.emplace(in.key, id);
      } else {
        id = found->second;
      }
      Instance::Series& series = in.series[id];
      int64_t t = sample.timestamp_ms.value_or(now_ms);
      if (t < series.last_t) {
        Note(result, RejectReason::kOutOfOrder, "");
        return;
      }
      if (t == series.last_t) {
        Note(result, RejectReason::kDuplicateTimestamp, "");
        return;
      }
      bool reset = series.counter && series.last_t != std::numeric_limits<int64_t>::min() &&
                   sample.value < series.last_v;
      if (reset) {
        Note(result, RejectReason::kCounterReset, "");
      } else {
        result.accepted++;
      }
      for (int term_index : series.terms) {
        const CompiledFeatures::Term& term = features.terms[term_index];
        double contribution = sample.value;
        if (term.rate) {
          if (reset || series.last_t == std::numeric_limits<int64_t>::min()) {
            continue;  // No rate across a reset or before a baseline.
          }
          contribution =
              (sample.value - series.last_v) / (static_cast<double>(t - series.last_t) / 1000.0);
        }
        Instance::Accumulator& acc = in.scratch[term_index];
        acc.sum += contribution;
        acc.max = std::max(acc.max, contribution);
        acc.min = std::min(acc.min, contribution);
        acc.count++;
      }
      series.last_t = t;
      series.last_v = sample.value;
      series.history.Append(t, sample.value);
    };
    auto on_problem = [&](const ParseProblem& problem) {
      Note(result, RejectReason::kParseError,
           absl::StrCat("line ", problem.line, ": ", problem.reason));
    };
    in.parser.Parse(text, on_sample, on_problem);

    // The instance's features at this batch's time.
    auto value_of = [&](int term_index, double* out) {
      const CompiledFeatures::Term& term = features.terms[term_index];
      const Instance::Accumulator& acc = in.scratch[term_index];
      if (!term.present || acc.count == 0) {
        return false;
      }
      switch (term.aggregate) {
        case MetricTermSpec::Aggregate::kSum:
          *out = acc.sum;
          break;
        case MetricTermSpec::Aggregate::kMean:
          *out = acc.sum / acc.count;
          break;
        case MetricTermSpec::Aggregate::kMax:
          *out = acc.max;
          break;
        case MetricTermSpec::Aggregate::kMin:
          *out = acc.min;
          break;
      }
      return true;
    };
    if (now_ms > in.last_feature_t) {
      for (size_t f = 0; f < features.specs.size(); ++f) {
        const FeatureSpec& spec = features.specs[f];
        double numerator = 0;
        double denominator = 1;
        if (!value_of(static_cast<int>(2 * f), &numerator)) {
          continue;
        }
        if (spec.divide_by &&
            (!value_of(static_cast<int>(2 * f + 1), &denominator) || denominator == 0)) {
          continue;
        }
        double value = spec.scale * numerator / denominator;
        if (spec.complement) {
          value = 1 - value;
        }
        if (!std::isfinite(value)) {
          continue;
        }
        in.feature_latest[f] = value;
        std::optional<std::string> closed = in.feature_history[f].Append(now_ms, value);
        if (closed && options_.persist_features) {
          std::vector<TimedValue> decoded;
          DecodeGorilla(*closed, &decoded);
          in.closed.push_back({absl::StrCat(instance_id, "/", spec.name),
                               decoded.empty() ? now_ms : decoded.front().timestamp_ms, now_ms,
                               static_cast<int>(decoded.size()), *closed});
        }
        emitted.push_back({spec.name, value, spec.limit});
      }
      in.last_feature_t = now_ms;
    }
    if (!in.closed.empty()) {
      absl::MutexLock engine_lock(&mu_);
      for (ChunkRecord& chunk : in.closed) {
        pending_chunks_.push_back(std::move(chunk));
      }
      in.closed.clear();
    }
  }
  result.features = static_cast<int>(emitted.size());
  if (sink_ != nullptr) {
    for (const Emitted& e : emitted) {
      sink_->OnFeature(instance_id, e.feature, now_ms, e.value, e.limit);
    }
  }
  Count(result);
  return result;
}

void TelemetryEngine::Count(const IngestResult& result) {
  if (metrics_ == nullptr) {
    return;
  }
  metrics_->TelemetrySamples().Increment(result.accepted);
  for (int r = 0; r < kRejectReasons; ++r) {
    if (result.rejected[r] > 0) {
      metrics_->TelemetryRejected(RejectReasonName(static_cast<RejectReason>(r)))
          .Increment(result.rejected[r]);
    }
  }
}

int TelemetryEngine::ScrapeDue() {
  struct Job {
    std::string instance_id;
    std::string host;
    int port = 0;
    ScrapeTargetSpec target;
  };
  absl::Time now = clock_->Now();
  std::vector<Job> jobs;
  for (const std::string& id : state_->InstanceIds()) {
    Cached<InstanceRecord> instance = state_->Instance(id);
    if (!instance || instance->removed || !instance->live || instance->live->endpoint.empty() ||
        (instance->live_phase != LivePhase::kRunning &&
         instance->live_phase != LivePhase::kUnhealthy)) {
      continue;
    }
    std::shared_ptr<const GroupSpec> group = state_->Group(instance->group);
    if (group == nullptr) {
      continue;
    }
    absl::StatusOr<std::pair<std::string, int>> endpoint = ParseHostPort(instance->live->endpoint);
    if (!endpoint.ok()) {
      continue;
    }
    for (size_t k = 0; k < group->telemetry.scrape.size(); ++k) {
      const ScrapeTargetSpec& target = group->telemetry.scrape[k];
      std::string key = absl::StrCat(id, "/", k);
      {
        absl::MutexLock lock(&mu_);
        absl::Time& last = last_scrape_[key];
        if (now - last < target.interval) {
          continue;
        }
        last = now;
      }
      jobs.push_back(
          {id, endpoint->first, target.port != 0 ? target.port : endpoint->second, target});
    }
  }
  ParallelFor(jobs.size(), options_.scrape_workers, [&](size_t i) {
    const Job& job = jobs[i];
    HttpRequestOptions options;
    options.connect_timeout = job.target.timeout;
    options.read_timeout = job.target.timeout;
    absl::StatusOr<HttpResponse> response =
        HttpRequest("GET", job.host, job.port, job.target.path, "", "", options);
    bool up = response.ok() && response->status == 200;
    if (metrics_ != nullptr) {
      metrics_->TelemetryScrapes(up ? "ok" : "failed").Increment();
    }
    int64_t at = absl::ToUnixMillis(now);
    if (up) {
      Ingest(job.instance_id, response->body, at);
    }
    if (sink_ != nullptr) {
      // Like Prometheus' `up`: whether the target could be scraped at all.
      sink_->OnFeature(job.instance_id, "up", at, up ? 1 : 0, std::nullopt);
    }
  });
  return static_cast<int>(jobs.size());
}

absl::Status TelemetryEngine::Flush(bool including_open) {
  std::vector<ChunkRecord> chunks;
  std::vector<std::pair<std::string, std::shared_ptr<Instance>>> instances;
  {
    absl::MutexLock lock(&mu_);
    chunks.swap(pending_chunks_);
    if (including_open) {
      instances.assign(instances_.begin(), instances_.end());
    }
  }
  for (const auto& [id, instance] : instances) {
    absl::MutexLock lock(&instance->mu);
    for (size_t f = 0; f < instance->feature_history.size(); ++f) {
      std::string block = instance->feature_history[f].OpenBlock();
      if (block.empty()) {
        continue;
      }
      std::vector<TimedValue> decoded;
      DecodeGorilla(block, &decoded);
      chunks.push_back({absl::StrCat(id, "/", instance->features->specs[f].name),
                        decoded.front().timestamp_ms, decoded.back().timestamp_ms,
                        static_cast<int>(decoded.size()), block});
    }
  }
  if (chunks.empty() || store_ == nullptr) {
    return absl::OkStatus();
  }
  WriteBatch batch;
  for (ChunkRecord& chunk : chunks) {
    batch.PutChunk(std::move(chunk));
  }
  return store_->Commit(batch).status();
}

TelemetryStats TelemetryEngine::Stats() const {
  TelemetryStats stats;
  std::vector<std::shared_ptr<Instance>> instances;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, instance] : instances_) {
      instances.push_back(instance);
    }
  }
  stats.instances = instances.size();
  for (const auto& instance : instances) {
    absl::MutexLock lock(&instance->mu);
    stats.series += instance->series.size();
    for (const auto& series : instance->series) {
      stats.samples += series.history.samples();
      stats.bytes += series.history.bytes();
    }
  }
  return stats;
}

std::vector<TimedValue> TelemetryEngine::FeatureHistory(const std::string& instance_id,
                                                        const std::string& feature) const {
  std::shared_ptr<Instance> instance;
  {
    absl::MutexLock lock(&mu_);
    auto it = instances_.find(instance_id);
    if (it == instances_.end()) {
      return {};
    }
    instance = it->second;
  }
  absl::MutexLock lock(&instance->mu);
  for (size_t f = 0; f < instance->features->specs.size(); ++f) {
    if (instance->features->specs[f].name == feature) {
      return instance->feature_history[f].Read();
    }
  }
  return {};
}

std::map<std::string, double> TelemetryEngine::LatestFeatures(
    const std::string& instance_id) const {
  std::shared_ptr<Instance> instance;
  {
    absl::MutexLock lock(&mu_);
    auto it = instances_.find(instance_id);
    if (it == instances_.end()) {
      return {};
    }
    instance = it->second;
  }
  std::map<std::string, double> out;
  absl::MutexLock lock(&instance->mu);
  for (size_t f = 0; f < instance->features->specs.size(); ++f) {
    if (std::isfinite(instance->feature_latest[f])) {
      out[instance->features->specs[f].name] = instance->feature_latest[f];
    }
  }
  return out;
}

}  // namespace shadowfleet

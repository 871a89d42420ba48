// Telemetry: live metrics in, engine features out. Exposition text arrives by scraping each
// live replica's endpoints (pull) or through the API (push); every sample lands in its
// series' compressed recent history, and after each batch the instance's features (CPU
// utilisation, memory use, disk I/O, latency, error rate and any the group names) are
// computed and handed to a FeatureSink, the prediction engine.
//
// Bad samples are rejected with a counted reason and never stop the rest of a batch:
// unparsable lines, NaN or infinite values, out-of-order and duplicate timestamps, counter
// resets (the sample becomes the counter's new baseline; the rate across the reset is
// dropped), unknown instances and series beyond the per-instance limit.
//
// Thread-safe: batches for different instances are ingested in parallel; one instance's
// batches are serialised by its own lock.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

#include "shadowfleet/common/clock.h"
#include "shadowfleet/fleet/fleet_state.h"
#include "shadowfleet/metrics/metrics.h"
#include "shadowfleet/store/store.h"
#include "shadowfleet/telemetry/gorilla.h"

namespace shadowfleet {

enum class RejectReason {
  kParseError,
  kNotFinite,
  kOutOfOrder,
  kDuplicateTimestamp,
  kCounterReset,
  kUnknownInstance,
  kSeriesLimit,
};
inline constexpr int kRejectReasons = 7;
const char* RejectReasonName(RejectReason reason);

struct IngestResult {
  int accepted = 0;
  std::array<int, kRejectReasons> rejected{};
  std::vector<std::string> problems;  // The first few, "line 12: value \"x\" is not a number".
  int features = 0;                   // Features computed from this batch.
  bool unknown_instance = false;      // No such instance: every sample was rejected.
  int rejected_total() const;
};

// Receives every computed feature sample. Called with no telemetry lock held.
class FeatureSink {
 public:
  virtual ~FeatureSink() = default;
  // `limit` is the value at which a bounded feature's resource is exhausted, if it has one.
  virtual void OnFeature(const std::string& instance_id, const std::string& feature,
                         int64_t timestamp_ms, double value, std::optional<double> limit) = 0;
};

struct TelemetryOptions {
  size_t max_samples_per_series = 720;  // Raw series: e.g. one hour at 5 s.
  size_t max_feature_samples = 8640;    // Feature series: e.g. twelve hours at 5 s.
  size_t max_series_per_instance = 20'000;
  int scrape_workers = 4;
  bool persist_features = true;  // Closed feature blocks are written to the store.
};

struct TelemetryStats {
  size_t instances = 0;
  size_t series = 0;
  size_t samples = 0;
  size_t bytes = 0;
};

class TelemetryEngine {
 public:
  // `sink` may be null (telemetry only).
  TelemetryEngine(FleetState* state, Store* store, Clock* clock, Metrics* metrics,
                  FeatureSink* sink, TelemetryOptions options = {});
  ~TelemetryEngine();
  TelemetryEngine(const TelemetryEngine&) = delete;
  TelemetryEngine& operator=(const TelemetryEngine&) = delete;

  // Ingests one exposition-format batch for `instance_id`. Samples without a timestamp are
  // taken at `now_ms`.
  IngestResult Ingest(const std::string& instance_id, std::string_view text, int64_t now_ms);

  // Scrapes every target whose interval has passed; returns how many were scraped.
  int ScrapeDue();

  // Writes feature blocks closed since the last flush (and, with `including_open`, the open
  // ones too: on shutdown) to the store.
  absl::Status Flush(bool including_open = false);

  TelemetryStats Stats() const;
  // A feature's recent history for one instance, oldest first.
  std::vector<TimedValue> FeatureHistory(const std::string& instance_id,
                                         const std::string& feature) const;
  // The latest value of each feature of an instance.
  std::map<std::string, double> LatestFeatures(const std::string& instance_id) const;

 private:
  struct Instance;
  struct CompiledFeatures;

  std::shared_ptr<Instance> InstanceFor(const std::string& instance_id, const GroupSpec& group);
  std::shared_ptr<const CompiledFeatures> FeaturesFor(const GroupSpec& group);
  void Count(const IngestResult& result);

  FleetState* const state_;
  Store* const store_;
  Clock* const clock_;
  Metrics* const metrics_;
  FeatureSink* const sink_;
  const TelemetryOptions options_;

  mutable absl::Mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Instance>> instances_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<const CompiledFeatures>> compiled_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> last_scrape_ ABSL_GUARDED_BY(mu_);  // instance/target
  std::vector<ChunkRecord> pending_chunks_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shadowfleet

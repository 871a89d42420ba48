// Where the canary judge's numbers come from: each replica's own request counters (requests,
// errors, total latency), read once per sampling interval; the difference between two reads
// is one sample. Replicas of real providers are scraped over HTTP in the exposition format;
// simulated replicas report synthetic counters.
#pragma once

#include <string>

#include "absl/status/statusor.h"

#include "shadowfleet/fleet/records.h"
#include "shadowfleet/provider/provider.h"
#include "shadowfleet/spec/fleet_spec.h"

namespace shadowfleet {

class SimCloud;

// Thread-safe.
class ReplicaMetricsSource {
 public:
  virtual ~ReplicaMetricsSource() = default;
  virtual absl::StatusOr<ReplicaCounters> Read(const Replica& replica,
                                               const SwitchoverSpec& policy) = 0;
};

// Scrapes http://<replica endpoint><metrics_path>: sums `requests_metric` over every series
// (errors: those whose `code` label matches `error_codes`), and reads
// `<latency_metric>_sum` and `_count`.
class HttpReplicaMetrics : public ReplicaMetricsSource {
 public:
  absl::StatusOr<ReplicaCounters> Read(const Replica& replica,
                                       const SwitchoverSpec& policy) override;
};

// Synthetic counters of simulated replicas (SimCloud::Counters).
class SimReplicaMetrics : public ReplicaMetricsSource {
 public:
  explicit SimReplicaMetrics(SimCloud* cloud) : cloud_(cloud) {}
  absl::StatusOr<ReplicaCounters> Read(const Replica& replica,
                                       const SwitchoverSpec& policy) override;

 private:
  SimCloud* const cloud_;
};

}  // namespace shadowfleet

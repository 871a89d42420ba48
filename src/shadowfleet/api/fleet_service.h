// The operations behind the HTTP API: reading and changing the fleet's state on behalf of a
// user. Every method returns the JSON the API sends, or a status the API maps to an HTTP
// error. Methods that change state commit to the store and then nudge the control loop, so
// that reconciliation starts without waiting for the next tick.
//
// Thread-safe: called concurrently from the HTTP server's worker threads.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include <nlohmann/json.hpp>

#include "shadowfleet/common/clock.h"
#include "shadowfleet/fleet/fleet_state.h"
#include "shadowfleet/ledger/ledger.h"
#include "shadowfleet/metrics/metrics.h"
#include "shadowfleet/spec/yaml_decoder.h"

namespace shadowfleet {

// A configuration change recorded on live instances.
struct ChangeRequest {
  std::vector<std::string> instances;         // Explicit instances, or
  std::string group;                          // every instance of a group.
  nlohmann::json patch;                       // RFC 6902 operations, or
  nlohmann::json merge;                       // an RFC 7386 merge patch, or
  std::map<std::string, nlohmann::json> set;  // JSON pointer -> new value.
  std::string author;
  std::string reason;

  // Validates a request body; INVALID_ARGUMENT names the offending field.
  static absl::StatusOr<ChangeRequest> FromJson(const nlohmann::json& body);
};

class FleetService {
 public:
  FleetService(FleetState* state, Ledger* ledger, Store* store, Clock* clock, Metrics* metrics,
               std::function<void()> nudge);

  // Supplies the daemon's own status (leadership, iterations) for Status().
  void SetDaemonStatus(std::function<nlohmann::json()> status) { status_ = std::move(status); }
  absl::StatusOr<nlohmann::json> Status();

  absl::StatusOr<nlohmann::json> Apply(const std::string& text, const std::string& file,
                                       const std::string& author, std::vector<SpecError>* errors);
  absl::StatusOr<nlohmann::json> Fleets();
  // Removes a fleet spec: its instances are then torn down (shadows, then managed live
  // replicas) by the reconcilers. Their ledgers are kept.
  absl::StatusOr<nlohmann::json> DeleteFleet(const std::string& name, const std::string& author);
  absl::StatusOr<nlohmann::json> Instances();
  absl::StatusOr<nlohmann::json> Instance(const std::string& id);
  absl::StatusOr<nlohmann::json> GetReadiness();
  absl::StatusOr<nlohmann::json> GetInstanceReadiness(const std::string& id);
  absl::StatusOr<nlohmann::json> Versions(const std::string& id, int64_t from, int64_t to,
                                          int limit);
  absl::StatusOr<nlohmann::json> Version(const std::string& id, int64_t version);
  absl::StatusOr<nlohmann::json> Diff(const std::string& id, int64_t from, int64_t to);
  absl::StatusOr<nlohmann::json> RecordChange(const ChangeRequest& request);
  absl::StatusOr<nlohmann::json> MarkTested(const std::string& id, int64_t version,
                                            const std::string& author);
  // ShadowFleetConfiguration: the delta that takes the shadow from its version to live's.
  absl::StatusOr<nlohmann::json> ShadowDelta(const std::string& id);
  absl::StatusOr<nlohmann::json> Compact(const std::string& id, const RetentionPolicy& policy);
  absl::StatusOr<nlohmann::json> Verify(const std::string& id);
  absl::StatusOr<nlohmann::json> Events(const EventQuery& query);

 private:
  absl::StatusOr<Cached<InstanceRecord>> FindInstance(const std::string& id);
  nlohmann::json Summary(const InstanceRecord& instance);
  nlohmann::json Metadata(const InstanceRecord& instance);
  absl::Time VersionTime(const std::string& id, int64_t version);

  FleetState* const state_;
  Ledger* const ledger_;
  Store* const store_;
  Clock* const clock_;
  Metrics* const metrics_;
  const std::function<void()> nudge_;
  std::function<nlohmann::json()> status_;
};

}  // namespace shadowfleet

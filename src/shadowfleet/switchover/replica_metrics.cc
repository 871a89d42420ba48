#include "shadowfleet/switchover/replica_metrics.h"

#include <regex>

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/http_client.h"
#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/provider/sim_provider.h"
#include "shadowfleet/telemetry/exposition_parser.h"

namespace shadowfleet {

absl::StatusOr<ReplicaCounters> HttpReplicaMetrics::Read(const Replica& replica,
                                                         const SwitchoverSpec& policy) {
  SF_ASSIGN_OR_RETURN(auto endpoint, ParseHostPort(replica.endpoint));
  HttpRequestOptions options;
  options.connect_timeout = absl::Milliseconds(500);
  options.read_timeout = absl::Seconds(1);
  SF_ASSIGN_OR_RETURN(HttpResponse response, HttpRequest("GET", endpoint.first, endpoint.second,
                                                         policy.metrics_path, "", "", options));
  if (response.status != 200) {
    return absl::UnavailableError(
        absl::StrCat("metrics of ", replica.id, ": HTTP ", response.status));
  }
  ReplicaCounters counters;
  std::regex errors(policy.error_codes);
  std::string sum_name = policy.latency_metric + "_sum";
  std::string count_name = policy.latency_metric + "_count";
  ExpositionParser parser;
  parser.Parse(
      response.body,
      [&](const SampleView& sample) {
        if (sample.name == policy.requests_metric) {
          counters.requests += sample.value;
          for (const LabelView& label : *sample.labels) {
            if (label.name == "code" && std::regex_match(std::string(label.value), errors)) {
              counters.errors += sample.value;
            }
          }
        } else if (sample.name == sum_name) {
          counters.latency_sum += sample.value;
        } else if (sample.name == count_name) {
          counters.latency_count += sample.value;
        }
      },
      [](const ParseProblem&) {});
  return counters;
}

absl::StatusOr<ReplicaCounters> SimReplicaMetrics::Read(const Replica& replica,
                                                        const SwitchoverSpec& policy) {
  (void)policy;
  return cloud_->Counters(replica.id);
}

}  // namespace shadowfleet

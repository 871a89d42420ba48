#include "shadowfleet/api/telemetry_routes.h"

#include "absl/strings/str_cat.h"

namespace shadowfleet {

void AddTelemetryRoutes(ApiServer& server, TelemetryEngine* telemetry, Clock* clock) {
  server.Route("POST", R"(/api/v1/telemetry/([^/]+))",
               [telemetry, clock](const ApiRequest& request) -> absl::StatusOr<nlohmann::json> {
                 const std::string& id = request.params[0];
                 IngestResult result =
                     telemetry->Ingest(id, request.body, absl::ToUnixMillis(clock->Now()));
                 if (result.unknown_instance) {
                   return absl::NotFoundError(absl::StrCat("no instance \"", id, "\""));
                 }
                 nlohmann::json rejected = nlohmann::json::object();
                 for (int r = 0; r < kRejectReasons; ++r) {
                   if (result.rejected[r] > 0) {
                     rejected[RejectReasonName(static_cast<RejectReason>(r))] = result.rejected[r];
                   }
                 }
                 return nlohmann::json{{"instance", id},
                                       {"accepted", result.accepted},
                                       {"rejected", rejected},
                                       {"problems", result.problems},
                                       {"features", result.features}};
               });
  server.Route("GET", R"(/api/v1/instances/([^/]+)/features)",
               [telemetry](const ApiRequest& request) -> absl::StatusOr<nlohmann::json> {
                 const std::string& id = request.params[0];
                 nlohmann::json out = {{"instance", id}, {"latest", telemetry->LatestFeatures(id)}};
                 std::string feature = request.StringQuery("history");
                 if (!feature.empty()) {
                   nlohmann::json points = nlohmann::json::array();
                   for (const TimedValue& p : telemetry->FeatureHistory(id, feature)) {
                     points.push_back({p.timestamp_ms, p.value});
                   }
                   out["history"] = {{"feature", feature}, {"points", points}};
                 }
                 return out;
               });
}

}  // namespace shadowfleet

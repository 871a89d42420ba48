#include "shadowfleet/api/risk_routes.h"

#include "shadowfleet/common/status_macros.h"

namespace shadowfleet {

void AddRiskRoutes(ApiServer& server, RiskEngine* engine, ModelRegistry* registry) {
  server.Route("GET", "/api/v1/risk",
               [engine](const ApiRequest&) -> absl::StatusOr<nlohmann::json> {
                 nlohmann::json out = nlohmann::json::array();
                 for (const RiskView& view : engine->All()) {
                   out.push_back(view.ToJson());
                 }
                 return out;
               });
  server.Route("GET", R"(/api/v1/instances/([^/]+)/risk)",
               [engine](const ApiRequest& r) -> absl::StatusOr<nlohmann::json> {
                 std::optional<RiskView> view = engine->Get(r.params[0]);
                 if (!view) {
                   return absl::NotFoundError("no risk score yet for \"" + r.params[0] + "\"");
                 }
                 nlohmann::json out = view->ToJson();
                 nlohmann::json history = nlohmann::json::array();
                 for (const RiskPoint& p : engine->History(r.params[0])) {
                   history.push_back({absl::ToUnixMillis(p.at), p.probability});
                 }
                 out["history"] = history;
                 return out;
               });
  server.Route(
      "POST", R"(/api/v1/instances/([^/]+)/failures)",
      [engine](const ApiRequest& r) -> absl::StatusOr<nlohmann::json> {
        SF_ASSIGN_OR_RETURN(nlohmann::json body, r.Json());
        if (!body.is_object()) {
          return absl::InvalidArgumentError("the request body must be a JSON object");
        }
        for (const char* key : {"kind", "reason"}) {
          if (body.contains(key) && !body[key].is_string()) {
            return absl::InvalidArgumentError(std::string(key) + ": must be a string");
          }
        }
        std::string kind = body.value("kind", "reported");
        SF_RETURN_IF_ERROR(
            engine->ReportFailure(r.params[0], kind, r.author, body.value("reason", "")));
        return nlohmann::json{{"instance", r.params[0]}, {"kind", kind}, {"recorded", true}};
      });
  server.Route("GET", "/api/v1/models",
               [registry](const ApiRequest&) -> absl::StatusOr<nlohmann::json> {
                 SF_ASSIGN_OR_RETURN(std::vector<ModelVersionInfo> versions, registry->Versions());
                 nlohmann::json out = {{"serving", registry->Current()->version()},
                                       {"versions", nlohmann::json::array()}};
                 for (const ModelVersionInfo& v : versions) {
                   out["versions"].push_back({{"version", v.version},
                                              {"created", TimeToDisplay(v.created)},
                                              {"promoted", v.promoted},
                                              {"current", v.current},
                                              {"reason", v.reason},
                                              {"metrics", v.metrics}});
                 }
                 ModelRegistryStats stats = registry->stats();
                 out["stats"] = {{"examples", stats.examples},
                                 {"failures", stats.failures},
                                 {"switchOuts", stats.switch_outs}};
                 return out;
               });
  server.Route("POST", "/api/v1/models/retrain",
               [registry](const ApiRequest&) -> absl::StatusOr<nlohmann::json> {
                 SF_RETURN_IF_ERROR(registry->Flush());
                 SF_ASSIGN_OR_RETURN(RetrainResult result, registry->Retrain("manual"));
                 return result.ToJson();
               });
}

}  // namespace shadowfleet

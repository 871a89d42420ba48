#include "shadowfleet/api/switchover_routes.h"

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/status_macros.h"

namespace shadowfleet {
namespace {

absl::StatusOr<std::string> RequiredString(const nlohmann::json& body, const std::string& key) {
  if (!body.is_object() || !body.contains(key) || !body[key].is_string() ||
      body[key].get<std::string>().empty()) {
    return absl::InvalidArgumentError(key + ": required, a non-empty string");
  }
  return body[key].get<std::string>();
}

absl::StatusOr<std::optional<SwitchoverSpec::Strategy>> StrategyOf(const nlohmann::json& body) {
  if (!body.contains("strategy")) {
    return std::optional<SwitchoverSpec::Strategy>();
  }
  if (!body["strategy"].is_string()) {
    return absl::InvalidArgumentError("strategy: must be a string, canary or blueGreen");
  }
  std::string s = body["strategy"].get<std::string>();
  if (s == "canary") {
    return std::optional<SwitchoverSpec::Strategy>(SwitchoverSpec::Strategy::kCanary);
  }
  if (s == "blueGreen") {
    return std::optional<SwitchoverSpec::Strategy>(SwitchoverSpec::Strategy::kBlueGreen);
  }
  return absl::InvalidArgumentError("strategy: must be canary or blueGreen, got \"" + s + "\"");
}

}  // namespace

void AddSwitchoverRoutes(ApiServer& server, SwitchoverController* controller, FleetState* state,
                         std::function<void()> nudge) {
  server.Route("POST", "/api/v1/switchovers",
               [controller, nudge](const ApiRequest& r) -> absl::StatusOr<nlohmann::json> {
                 SF_ASSIGN_OR_RETURN(nlohmann::json body, r.Json());
                 SwitchoverRequest request;
                 SF_ASSIGN_OR_RETURN(request.instance_id, RequiredString(body, "instance"));
                 SF_ASSIGN_OR_RETURN(request.reason, RequiredString(body, "reason"));
                 SF_ASSIGN_OR_RETURN(request.strategy, StrategyOf(body));
                 request.actor = r.author;
                 request.trigger = SwitchoverTrigger::kManual;
                 SF_ASSIGN_OR_RETURN(SwitchoverRecord started, controller->Start(request));
                 nudge();
                 return started.ToJson();
               });
  server.Route(
      "POST", "/api/v1/switchovers/refresh",
      [controller, state, nudge](const ApiRequest& r) -> absl::StatusOr<nlohmann::json> {
        SF_ASSIGN_OR_RETURN(nlohmann::json body, r.Json());
        SF_ASSIGN_OR_RETURN(std::string group, RequiredString(body, "group"));
        SF_ASSIGN_OR_RETURN(std::string reason, RequiredString(body, "reason"));
        SF_ASSIGN_OR_RETURN(std::optional<SwitchoverSpec::Strategy> strategy, StrategyOf(body));
        nlohmann::json started = nlohmann::json::array();
        nlohmann::json skipped = nlohmann::json::array();
        for (const std::string& id : state->InstanceIds()) {
          Cached<InstanceRecord> instance = state->Instance(id);
          if (!instance || instance->removed || instance->group != group) {
            continue;
          }
          SwitchoverRequest request{id, SwitchoverTrigger::kFleetRefresh, r.author, reason};
          request.strategy = strategy;
          absl::StatusOr<SwitchoverRecord> sw = controller->Start(request);
          if (sw.ok()) {
            started.push_back(sw->id);
          } else {
            skipped.push_back({{"instance", id}, {"reason", std::string(sw.status().message())}});
          }
        }
        if (started.empty() && skipped.empty()) {
          return absl::NotFoundError("group \"" + group + "\" has no instances");
        }
        nudge();
        return nlohmann::json{{"started", started}, {"skipped", skipped}};
      });
  server.Route("GET", "/api/v1/switchovers",
               [controller](const ApiRequest& r) -> absl::StatusOr<nlohmann::json> {
                 bool all = r.StringQuery("all") == "true";
                 nlohmann::json out = nlohmann::json::array();
                 for (const SwitchoverRecord& sw : controller->List(!all)) {
                   nlohmann::json j = sw.ToJson();
                   j.erase("judgements");
                   j["judged"] = sw.judgements.size();
                   out.push_back(std::move(j));
                 }
                 return out;
               });
  server.Route("GET", R"(/api/v1/switchovers/([^/]+))",
               [controller](const ApiRequest& r) -> absl::StatusOr<nlohmann::json> {
                 std::optional<SwitchoverRecord> sw = controller->Get(r.params[0]);
                 if (!sw) {
                   return absl::NotFoundError("no switchover \"" + r.params[0] + "\"");
                 }
                 return sw->ToJson();
               });
  server.Route(
      "POST", R"(/api/v1/switchovers/([^/]+)/(pause|resume|promote|abort))",
      [controller, nudge](const ApiRequest& r) -> absl::StatusOr<nlohmann::json> {
        nlohmann::json body = r.body.empty() ? nlohmann::json::object()
                                             : nlohmann::json::parse(r.body, nullptr, false);
        if (!body.is_object()) {
          return absl::InvalidArgumentError("request body is not a JSON object");
        }
        if (body.contains("reason") && !body["reason"].is_string()) {
          return absl::InvalidArgumentError("reason: must be a string");
        }
        std::optional<OperatorAction> action = ParseOperatorAction(r.params[1]);
        SF_ASSIGN_OR_RETURN(SwitchoverRecord sw, controller->Act(r.params[0], *action, r.author,
                                                                 body.value("reason", "")));
        nudge();
        return sw.ToJson();
      });
}

}  // namespace shadowfleet

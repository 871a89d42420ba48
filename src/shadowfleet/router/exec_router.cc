#include "shadowfleet/router/exec_router.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

#include "shadowfleet/common/logging.h"
#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/common/subprocess.h"

namespace shadowfleet {
namespace {

constexpr size_t kQuoteLimit = 300;

std::string Quote(const std::string& text) {
  std::string trimmed = text.size() > kQuoteLimit ? text.substr(0, kQuoteLimit) + "..." : text;
  while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == ' ')) {
    trimmed.pop_back();
  }
  return trimmed;
}

nlohmann::json BackendJson(const Backend& backend) {
  return {{"name", backend.name}, {"address", backend.address}};
}

absl::Status CheckPercent(int weight_percent) {
  if (weight_percent < 0 || weight_percent > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("weight must be 0..100 percent, got ", weight_percent));
  }
  return absl::OkStatus();
}

// Reads a field of one reported backend, with a clear error when it has the wrong type.
template <typename T>
absl::StatusOr<T> Field(const nlohmann::json& item, const std::string& key, T fallback) {
  if (!item.contains(key) || item[key].is_null()) {
    return fallback;
  }
  try {
    return item[key].get<T>();
  } catch (const nlohmann::json::exception&) {
    return absl::InvalidArgumentError(absl::StrCat(
        "plug-in response to read: \"", key, "\" has the wrong type: ", Quote(item[key].dump())));
  }
}

absl::StatusOr<BackendState> ParseBackendState(const nlohmann::json& item) {
  if (!item.is_object() || !item.contains("name") || !item["name"].is_string()) {
    return absl::InvalidArgumentError(
        "plug-in response to read: each backend must be an object with a \"name\"");
  }
  BackendState state;
  state.name = item["name"].get<std::string>();
  SF_ASSIGN_OR_RETURN(state.address, Field<std::string>(item, "address", ""));
  SF_ASSIGN_OR_RETURN(state.weight_percent, Field<int>(item, "weightPercent", 0));
  SF_ASSIGN_OR_RETURN(state.draining, Field<bool>(item, "draining", false));
  SF_ASSIGN_OR_RETURN(state.present, Field<bool>(item, "present", true));
  if (state.weight_percent < 0 || state.weight_percent > 100) {
    return absl::InvalidArgumentError(absl::StrCat("plug-in response to read: backend ", state.name,
                                                   " has weightPercent ", state.weight_percent,
                                                   ", not 0..100"));
  }
  return state;
}

}  // namespace

ExecRouter::ExecRouter(std::string group, ExecRouterSettings settings,
                       RouterEnvironment environment)
    : group_(std::move(group)),
      settings_(std::move(settings)),
      environment_(std::move(environment)) {}

absl::StatusOr<nlohmann::json> ExecRouter::Call(const std::string& operation,
                                                nlohmann::json request) const {
  std::vector<std::string> argv;
  for (const std::string& part : settings_.command) {
    argv.push_back(absl::StrReplaceAll(part, {{"{bin}", environment_.bin_dir}}));
  }
  argv.push_back(operation);
  request["apiVersion"] = kApiVersion;
  request["operation"] = operation;
  request["group"] = group_;

  CommandOptions options;
  options.stdin_data = request.dump();
  options.timeout = settings_.timeout;
  for (const auto& [key, value] : settings_.env) {
    options.env[key] = absl::StrReplaceAll(
        value, {{"{bin}", environment_.bin_dir}, {"{state}", environment_.state_dir}});
  }
  absl::StatusOr<CommandResult> run = RunCommand(argv, options);
  if (!run.ok()) {
    return absl::UnavailableError(
        absl::StrCat("exec router plug-in ", operation, ": ", run.status().message()));
  }
  nlohmann::json response =
      nlohmann::json::parse(run->stdout_data, nullptr, /*allow_exceptions=*/false);
  if (run->exit_code != 0) {
    std::string reason = Quote(run->stderr_data);
    if (response.is_object() && response.contains("error")) {
      const nlohmann::json& error = response["error"];
      reason = error.is_string() ? error.get<std::string>() : Quote(error.dump());
    }
    return absl::UnavailableError(absl::StrCat("exec router plug-in ", operation, " exited with ",
                                               run->exit_code, ": ", reason));
  }
  if (!response.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("exec router plug-in ", operation,
                                                   " did not print a JSON object on stdout: \"",
                                                   Quote(run->stdout_data), "\""));
  }
  return response;
}

absl::Status ExecRouter::Ensure(const Backend& backend, int weight_percent) {
  SF_RETURN_IF_ERROR(CheckPercent(weight_percent));
  return Call("ensure", {{"backend", BackendJson(backend)}, {"weightPercent", weight_percent}})
      .status();
}

absl::Status ExecRouter::SetWeights(const std::vector<std::pair<Backend, int>>& weights) {
  nlohmann::json list = nlohmann::json::array();
  std::vector<Backend> backends;
  for (const auto& [backend, percent] : weights) {
    SF_RETURN_IF_ERROR(CheckPercent(percent));
    nlohmann::json item = BackendJson(backend);
    item["weightPercent"] = percent;
    list.push_back(std::move(item));
    backends.push_back(backend);
  }
  SF_RETURN_IF_ERROR(Call("set-weights", {{"weights", list}}).status());

  // The plug-in's word that it set them is not enough: read back what the balancer reports.
  SF_ASSIGN_OR_RETURN(std::vector<BackendState> states, Read(backends));
  std::vector<std::string> differ;
  for (size_t i = 0; i < weights.size(); ++i) {
    const BackendState& state = states[i];
    if (!state.present || state.weight_percent != weights[i].second) {
      differ.push_back(absl::StrCat(
          state.name, " has ",
          state.present ? absl::StrCat(state.weight_percent, "%") : std::string("no entry"),
          " instead of ", weights[i].second, "%"));
    }
  }
  if (!differ.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("exec router of group ", group_,
                     " reports other weights than were set: ", absl::StrJoin(differ, ", ")));
  }
  std::vector<std::string> summary;
  for (const auto& [backend, percent] : weights) {
    summary.push_back(absl::StrCat(backend.name, "=", percent, "%"));
  }
  Logger("router")->info("exec router weights set group={} weights={}", group_,
                         absl::StrJoin(summary, ","));
  return absl::OkStatus();
}

absl::Status ExecRouter::Drain(const Backend& backend) {
  return Call("drain", {{"backend", BackendJson(backend)}}).status();
}

absl::Status ExecRouter::Remove(const Backend& backend) {
  return Call("remove", {{"backend", BackendJson(backend)}}).status();
}

absl::StatusOr<std::vector<BackendState>> ExecRouter::Read(const std::vector<Backend>& backends) {
  nlohmann::json list = nlohmann::json::array();
  for (const Backend& backend : backends) {
    list.push_back(BackendJson(backend));
  }
  SF_ASSIGN_OR_RETURN(nlohmann::json response, Call("read", {{"backends", list}}));
  if (!response.contains("backends") || !response["backends"].is_array()) {
    return absl::InvalidArgumentError("plug-in response to read lacks a \"backends\" array");
  }
  std::map<std::string, BackendState> reported;
  for (const nlohmann::json& item : response["backends"]) {
    SF_ASSIGN_OR_RETURN(BackendState state, ParseBackendState(item));
    reported[state.name] = std::move(state);
  }

  // In the order asked, with a backend the plug-in did not mention reported as absent.
  std::vector<BackendState> out;
  for (const Backend& backend : backends) {
    auto it = reported.find(backend.name);
    out.push_back(it != reported.end() ? it->second
                                       : BackendState{.name = backend.name, .present = false});
  }
  return out;
}

}  // namespace shadowfleet

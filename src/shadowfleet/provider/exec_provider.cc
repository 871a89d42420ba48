#include "shadowfleet/provider/exec_provider.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

#include "shadowfleet/common/clock.h"
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

// Reads a field of a plug-in response with a clear error when it has the wrong type.
template <typename T>
absl::StatusOr<T> Field(const nlohmann::json& response, const std::string& operation,
                        const std::string& key, std::optional<T> fallback = std::nullopt) {
  if (!response.contains(key) || response[key].is_null()) {
    if (fallback) {
      return *fallback;
    }
    return absl::InvalidArgumentError(
        absl::StrCat("plug-in response to ", operation, " lacks \"", key, "\""));
  }
  try {
    return response[key].get<T>();
  } catch (const nlohmann::json::exception&) {
    return absl::InvalidArgumentError(
        absl::StrCat("plug-in response to ", operation, ": \"", key,
                     "\" has the wrong type: ", Quote(response[key].dump())));
  }
}

absl::StatusOr<ReplicaPhase> ParsePhase(const std::string& text) {
  if (text == "building") {
    return ReplicaPhase::kBuilding;
  }
  if (text == "running") {
    return ReplicaPhase::kRunning;
  }
  if (text == "failed") {
    return ReplicaPhase::kFailed;
  }
  if (text == "gone") {
    return ReplicaPhase::kGone;
  }
  return absl::InvalidArgumentError(
      "plug-in response to check: phase must be building, running, failed or gone, got \"" + text +
      "\"");
}

}  // namespace

ExecProvider::ExecProvider(GroupSpec group, ProviderEnvironment environment)
    : group_(std::move(group)),
      settings_(std::get<ExecProviderSettings>(group_.provider.settings)),
      environment_(std::move(environment)) {}

absl::StatusOr<nlohmann::json> ExecProvider::Call(const std::string& operation,
                                                  nlohmann::json request) {
  std::vector<std::string> argv;
  for (const std::string& part : settings_.command) {
    argv.push_back(absl::StrReplaceAll(part, {{"{bin}", environment_.bin_dir}}));
  }
  argv.push_back(operation);
  request["apiVersion"] = kApiVersion;
  request["operation"] = operation;
  request["group"] = group_.name;

  CommandOptions options;
  options.stdin_data = request.dump();
  options.timeout = settings_.timeout;
  for (const auto& [key, value] : settings_.env) {
    options.env[key] = absl::StrReplaceAll(
        value, {{"{bin}", environment_.bin_dir}, {"{state}", environment_.state_dir}});
  }
  absl::StatusOr<CommandResult> run = RunCommand(argv, options);
  if (!run.ok()) {
    // Keeps the code (DEADLINE_EXCEEDED for a hung plug-in, NOT_FOUND for a missing one).
    return absl::Status(run.status().code(),
                        absl::StrCat("exec plug-in ", operation, ": ", run.status().message()));
  }
  nlohmann::json response =
      nlohmann::json::parse(run->stdout_data, nullptr, /*allow_exceptions=*/false);
  if (run->exit_code != 0) {
    std::string reason = response.is_object() && response.contains("error")
                             ? (response["error"].is_string() ? response["error"].get<std::string>()
                                                              : response["error"].dump())
                             : Quote(run->stderr_data);
    return absl::UnavailableError(
        absl::StrCat("exec plug-in ", operation, " exited with ", run->exit_code, ": ", reason));
  }
  if (!response.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("exec plug-in ", operation,
                                                   " did not print a JSON object on stdout: \"",
                                                   Quote(run->stdout_data), "\""));
  }
  return response;
}

absl::StatusOr<Replica> ExecProvider::Create(const CreateRequest& request) {
  SF_ASSIGN_OR_RETURN(nlohmann::json response,
                      Call("create", {{"replica", request.replica_id},
                                      {"instance", request.instance_id},
                                      {"fleet", request.fleet},
                                      {"role", RoleName(request.role)},
                                      {"version", request.version},
                                      {"configuration", request.configuration}}));
  Replica replica;
  replica.id = request.replica_id;
  SF_ASSIGN_OR_RETURN(replica.provider_id, Field<std::string>(response, "create", "providerId"));
  SF_ASSIGN_OR_RETURN(replica.endpoint,
                      Field<std::string>(response, "create", "endpoint", std::string()));
  replica.provider_state = response.value("state", nlohmann::json::object());
  replica.created_at = environment_.clock->Now();
  return replica;
}

absl::StatusOr<Replica> ExecProvider::Apply(const Replica& replica, const ApplyRequest& request) {
  SF_ASSIGN_OR_RETURN(nlohmann::json response,
                      Call("apply", {{"replica", replica.ToJson()},
                                     {"version", request.version},
                                     {"configuration", request.configuration},
                                     {"delta", request.delta}}));
  Replica updated = replica;
  if (response.contains("endpoint") && response["endpoint"].is_string()) {
    updated.endpoint = response["endpoint"].get<std::string>();
  }
  if (response.contains("state") && response["state"].is_object()) {
    updated.provider_state = response["state"];
  }
  return updated;
}

absl::StatusOr<ReplicaStatus> ExecProvider::Check(const Replica& replica) {
  SF_ASSIGN_OR_RETURN(nlohmann::json response, Call("check", {{"replica", replica.ToJson()}}));
  ReplicaStatus status;
  SF_ASSIGN_OR_RETURN(std::string phase, Field<std::string>(response, "check", "phase"));
  SF_ASSIGN_OR_RETURN(status.phase, ParsePhase(phase));
  SF_ASSIGN_OR_RETURN(status.healthy, Field<bool>(response, "check", "healthy", false));
  SF_ASSIGN_OR_RETURN(status.applied_version,
                      Field<int64_t>(response, "check", "appliedVersion", int64_t{-1}));
  SF_ASSIGN_OR_RETURN(status.detail,
                      Field<std::string>(response, "check", "detail", std::string()));
  return status;
}

absl::Status ExecProvider::Terminate(const Replica& replica) {
  return Call("terminate", {{"replica", replica.ToJson()}}).status();
}

absl::StatusOr<std::vector<ListedReplica>> ExecProvider::List() {
  SF_ASSIGN_OR_RETURN(nlohmann::json response, Call("list", nlohmann::json::object()));
  if (!response.contains("replicas") || !response["replicas"].is_array()) {
    return absl::InvalidArgumentError("plug-in response to list lacks a \"replicas\" array");
  }
  std::vector<ListedReplica> out;
  for (const nlohmann::json& item : response["replicas"]) {
    if (!item.is_object()) {
      return absl::InvalidArgumentError("plug-in response to list: replicas must be objects");
    }
    ListedReplica listed;
    listed.group = group_.name;
    SF_ASSIGN_OR_RETURN(listed.instance_id, Field<std::string>(item, "list", "instance"));
    SF_ASSIGN_OR_RETURN(std::string role,
                        Field<std::string>(item, "list", "role", std::string("live")));
    listed.role = role == "shadow" ? Role::kShadow : Role::kLive;
    SF_ASSIGN_OR_RETURN(listed.replica.id,
                        Field<std::string>(item, "list", "replica", listed.instance_id));
    SF_ASSIGN_OR_RETURN(listed.replica.provider_id, Field<std::string>(item, "list", "providerId"));
    SF_ASSIGN_OR_RETURN(listed.replica.endpoint,
                        Field<std::string>(item, "list", "endpoint", std::string()));
    listed.replica.provider_state = item.value("state", nlohmann::json::object());
    out.push_back(std::move(listed));
  }
  return out;
}

absl::StatusOr<std::optional<nlohmann::json>> ExecProvider::Observe(const Replica& replica) {
  SF_ASSIGN_OR_RETURN(nlohmann::json response, Call("observe", {{"replica", replica.ToJson()}}));
  if (!response.contains("configuration") || response["configuration"].is_null()) {
    return std::optional<nlohmann::json>();
  }
  if (!response["configuration"].is_object()) {
    return absl::InvalidArgumentError(
        "plug-in response to observe: configuration must be an object or null");
  }
  return std::optional<nlohmann::json>(response["configuration"]);
}

absl::StatusOr<VolumeSyncResult> ExecProvider::SyncVolume(const Replica& source,
                                                          const Replica& target,
                                                          const VolumeSpec& volume) {
  VolumeSyncResult result;
  result.synced_as_of = environment_.clock->Now();
  std::vector<std::string> argv;
  for (const std::string& part : volume.command) {
    argv.push_back(absl::StrReplaceAll(part, {{"{source}", source.provider_id},
                                              {"{target}", target.provider_id},
                                              {"{instance}", target.id},
                                              {"{volume}", volume.name}}));
  }
  CommandOptions options;
  options.timeout = volume.max_lag;
  SF_ASSIGN_OR_RETURN(CommandResult run, RunCommand(argv, options));
  if (run.exit_code != 0) {
    return absl::UnavailableError(absl::StrCat("volume sync command exited with ", run.exit_code,
                                               ": ", Quote(run.stderr_data)));
  }
  return result;
}

}  // namespace shadowfleet

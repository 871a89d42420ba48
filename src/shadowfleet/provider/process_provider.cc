#include "shadowfleet/provider/process_provider.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

#include "shadowfleet/common/clock.h"
#include "shadowfleet/common/files.h"
#include "shadowfleet/common/http_client.h"
#include "shadowfleet/common/logging.h"
#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/common/subprocess.h"
#include "shadowfleet/volume/directory_sync.h"

namespace shadowfleet {
namespace {

namespace fs = std::filesystem;

constexpr char kReplicaFile[] = "replica.json";
constexpr char kConfigFile[] = "config.json";
constexpr char kLogFile[] = "output.log";

// Asks the kernel for a free loopback port. Another process could take it before the replica
// binds it; the replica then fails its health check and is replaced, which is the same path
// as any other start-up failure.
absl::StatusOr<int> AllocatePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::UnavailableError("socket() failed while allocating a port");
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return absl::UnavailableError("no free loopback port");
  }
  close(fd);
  return ntohs(addr.sin_port);
}

absl::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path) {
  SF_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return absl::DataLossError(path + ": not valid JSON");
  }
  return j;
}

}  // namespace

ProcessProvider::ProcessProvider(GroupSpec group, ProviderEnvironment environment)
    : group_(std::move(group)),
      settings_(std::get<ProcessProviderSettings>(group_.provider.settings)),
      environment_(std::move(environment)),
      work_dir_(settings_.work_dir.empty() ? environment_.state_dir + "/replicas"
                                           : settings_.work_dir) {}

std::string ProcessProvider::ReplicaDir(const std::string& replica_id) const {
  return work_dir_ + "/" + replica_id;
}

absl::StatusOr<Replica> ProcessProvider::Create(const CreateRequest& request) {
  std::string dir = ReplicaDir(request.replica_id);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  }
  for (const VolumeSpec& volume : group_.volumes) {
    fs::create_directories(dir + "/" + volume.path, ec);
  }
  SF_ASSIGN_OR_RETURN(int port, AllocatePort());
  nlohmann::json identity = {{"replica", request.replica_id},  {"instance", request.instance_id},
                             {"group", group_.name},           {"fleet", request.fleet},
                             {"role", RoleName(request.role)}, {"port", port},
                             {"version", request.version}};
  // The identity is written before the process starts, so that a crash between the two
  // leaves a directory that List() reports and the reconciler can clean up.
  SF_RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + kReplicaFile, identity.dump(2)));
  SF_RETURN_IF_ERROR(
      WriteFileAtomically(dir + "/" + kConfigFile, request.configuration.dump(2) + "\n"));
  SF_ASSIGN_OR_RETURN(Handle handle,
                      Start(request.replica_id, request.instance_id, request.role, port));
  Replica replica = ReplicaFrom(request.replica_id, handle);
  replica.created_at = environment_.clock->Now();
  Logger("provider")
      ->info("process started replica={} instance={} role={} pid={} port={}", request.replica_id,
             request.instance_id, RoleName(request.role), handle.pid, port);
  return replica;
}

absl::StatusOr<ProcessProvider::Handle> ProcessProvider::Start(const std::string& replica_id,
                                                               const std::string& instance_id,
                                                               Role role, int port) {
  std::string dir = ReplicaDir(replica_id);
  std::vector<std::string> argv;
  argv.reserve(settings_.command.size());
  for (const std::string& part : settings_.command) {
    argv.push_back(absl::StrReplaceAll(part, {{"{port}", absl::StrCat(port)},
                                              {"{config}", dir + "/" + kConfigFile},
                                              {"{dir}", dir},
                                              {"{instance}", instance_id},
                                              {"{replica}", replica_id},
                                              {"{role}", RoleName(role)},
                                              {"{bin}", environment_.bin_dir}}));
  }
  SpawnOptions options;
  options.env = settings_.env;
  options.env["SHADOWFLEET_INSTANCE"] = instance_id;
  options.env["SHADOWFLEET_REPLICA"] = replica_id;
  options.env["SHADOWFLEET_ROLE"] = RoleName(role);
  options.env["SHADOWFLEET_PORT"] = absl::StrCat(port);
  options.working_dir = dir;
  options.log_path = dir + "/" + kLogFile;
  SF_ASSIGN_OR_RETURN(pid_t pid, SpawnDetached(argv, options));
  Handle handle{pid, ProcessStartTicks(pid), port};

  SF_ASSIGN_OR_RETURN(nlohmann::json identity, ReadJsonFile(dir + "/" + kReplicaFile));
  identity["pid"] = handle.pid;
  identity["startTicks"] = handle.start_ticks;
  SF_RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + kReplicaFile, identity.dump(2)));
  return handle;
}

Replica ProcessProvider::ReplicaFrom(const std::string& replica_id, const Handle& handle) const {
  Replica replica;
  replica.id = replica_id;
  replica.provider_id = absl::StrCat("pid:", handle.pid);
  replica.endpoint = absl::StrCat("127.0.0.1:", handle.port);
  replica.provider_state = {{"pid", handle.pid},
                            {"startTicks", handle.start_ticks},
                            {"port", handle.port},
                            {"dir", ReplicaDir(replica_id)}};
  return replica;
}

absl::StatusOr<ProcessProvider::Handle> ProcessProvider::HandleOf(const Replica& replica) const {
  const nlohmann::json& state = replica.provider_state;
  if (!state.is_object() || !state.contains("pid") || !state.contains("port")) {
    return absl::InvalidArgumentError("replica " + replica.id + " has no process state");
  }
  try {
    return Handle{state.at("pid").get<int>(), state.value("startTicks", uint64_t{0}),
                  state.at("port").get<int>()};
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("replica ", replica.id, " has malformed process state: ", e.what()));
  }
}

absl::StatusOr<Replica> ProcessProvider::Apply(const Replica& replica,
                                               const ApplyRequest& request) {
  SF_ASSIGN_OR_RETURN(Handle handle, HandleOf(replica));
  std::string dir = ReplicaDir(replica.id);
  SF_ASSIGN_OR_RETURN(nlohmann::json identity, ReadJsonFile(dir + "/" + kReplicaFile));
  SF_RETURN_IF_ERROR(
      WriteFileAtomically(dir + "/" + kConfigFile, request.configuration.dump(2) + "\n"));
  identity["version"] = request.version;
  SF_RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + kReplicaFile, identity.dump(2)));

  if (settings_.on_config_change == ConfigChangeAction::kReload &&
      ProcessAlive(handle.pid, handle.start_ticks)) {
    if (kill(handle.pid, settings_.reload_signal) != 0) {
      return absl::UnavailableError(absl::StrCat("cannot signal pid ", handle.pid));
    }
    return replica;
  }
  StopProcessGroup(handle.pid, handle.start_ticks, settings_.stop_grace_period);
  Role role = identity.value("role", "shadow") == std::string("live") ? Role::kLive : Role::kShadow;
  SF_ASSIGN_OR_RETURN(Handle restarted,
                      Start(replica.id, identity.value("instance", ""), role, handle.port));
  Replica updated = ReplicaFrom(replica.id, restarted);
  updated.created_at = replica.created_at;
  return updated;
}

absl::StatusOr<ReplicaStatus> ProcessProvider::Check(const Replica& replica) {
  SF_ASSIGN_OR_RETURN(Handle handle, HandleOf(replica));
  ReplicaStatus status;
  std::string dir = ReplicaDir(replica.id);
  absl::StatusOr<nlohmann::json> identity = ReadJsonFile(dir + "/" + kReplicaFile);
  if (!identity.ok()) {
    status.phase = ReplicaPhase::kGone;
    status.detail = "replica directory is gone";
    return status;
  }
  status.applied_version = identity->value("version", int64_t{-1});
  if (!ProcessAlive(handle.pid, handle.start_ticks)) {
    status.phase = ReplicaPhase::kFailed;
    status.detail = absl::StrCat("process ", handle.pid, " is not running");
    return status;
  }
  status.phase = ReplicaPhase::kRunning;
  HttpRequestOptions options;
  options.connect_timeout = group_.health_check.timeout;
  options.read_timeout = group_.health_check.timeout;
  absl::StatusOr<HttpResponse> response =
      HttpRequest("GET", "127.0.0.1", handle.port, group_.health_check.path, "", "", options);
  if (!response.ok()) {
    status.detail = std::string(response.status().message());
  } else if (response->status < 200 || response->status >= 400) {
    status.detail = absl::StrCat("health check returned HTTP ", response->status);
  } else {
    status.healthy = true;
  }
  return status;
}

absl::Status ProcessProvider::Terminate(const Replica& replica) {
  absl::StatusOr<Handle> handle = HandleOf(replica);
  if (handle.ok()) {
    StopProcessGroup(handle->pid, handle->start_ticks, settings_.stop_grace_period);
  }
  std::error_code ec;
  fs::remove_all(ReplicaDir(replica.id), ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot remove ", ReplicaDir(replica.id), ": ", ec.message()));
  }
  Logger("provider")->info("process terminated replica={}", replica.id);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ListedReplica>> ProcessProvider::List() {
  std::vector<ListedReplica> out;
  std::error_code ec;
  if (!fs::exists(work_dir_, ec)) {
    return out;
  }
  for (const auto& entry : fs::directory_iterator(work_dir_, ec)) {
    absl::StatusOr<nlohmann::json> identity =
        ReadJsonFile(entry.path().string() + "/" + kReplicaFile);
    if (!identity.ok() || identity->value("group", "") != group_.name) {
      continue;
    }
    ListedReplica listed;
    listed.instance_id = identity->value("instance", "");
    listed.group = group_.name;
    listed.role = identity->value("role", "") == std::string("live") ? Role::kLive : Role::kShadow;
    Handle handle{identity->value("pid", 0), identity->value("startTicks", uint64_t{0}),
                  identity->value("port", 0)};
    listed.replica = ReplicaFrom(identity->value("replica", ""), handle);
    out.push_back(std::move(listed));
  }
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot list ", work_dir_, ": ", ec.message()));
  }
  return out;
}

absl::StatusOr<std::optional<nlohmann::json>> ProcessProvider::Observe(const Replica& replica) {
  SF_ASSIGN_OR_RETURN(nlohmann::json config,
                      ReadJsonFile(ReplicaDir(replica.id) + "/" + kConfigFile));
  if (!config.is_object()) {
    return absl::DataLossError(replica.id + ": config.json is not a JSON object");
  }
  return std::optional<nlohmann::json>(std::move(config));
}

absl::StatusOr<VolumeSyncResult> ProcessProvider::SyncVolume(const Replica& source,
                                                             const Replica& target,
                                                             const VolumeSpec& volume) {
  std::string from = ReplicaDir(source.id) + "/" + volume.path;
  std::string to = ReplicaDir(target.id) + "/" + volume.path;
  VolumeSyncResult result;
  // The copy holds the source's data as of the moment the copy started.
  result.synced_as_of = environment_.clock->Now();
  if (volume.method == VolumeSyncMethod::kCopy) {
    SF_ASSIGN_OR_RETURN(DirectorySyncStats stats, SyncDirectory(from, to));
    result.files_copied = stats.files_copied;
    result.bytes_copied = stats.bytes_copied;
    return result;
  }
  std::vector<std::string> argv;
  for (const std::string& part : volume.command) {
    argv.push_back(absl::StrReplaceAll(part, {{"{source}", from},
                                              {"{target}", to},
                                              {"{instance}", target.id},
                                              {"{volume}", volume.name}}));
  }
  CommandOptions options;
  options.timeout = volume.max_lag;
  SF_ASSIGN_OR_RETURN(CommandResult run, RunCommand(argv, options));
  if (run.exit_code != 0) {
    return absl::UnavailableError(absl::StrCat("volume sync command exited with ", run.exit_code,
                                               ": ", run.stderr_data.substr(0, 500)));
  }
  return result;
}

}  // namespace shadowfleet

#include "integration/harness.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "integration/integration_env.h"

#include "shadowfleet/common/files.h"
#include "shadowfleet/common/subprocess.h"

namespace shadowfleet::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string pattern = "/tmp/shadowfleet-test-XXXXXX";
  char* made = mkdtemp(pattern.data());
  EXPECT_NE(made, nullptr);
  path_ = pattern;
}

TempDir::~TempDir() {
  KillReplicaProcesses(path_);
  std::error_code ec;
  fs::remove_all(path_, ec);
}

bool WaitUntil(const std::function<bool()>& condition, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

std::vector<std::pair<std::string, int>> ReplicaPids(const std::string& dir) {
  std::vector<std::pair<std::string, int>> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().filename() != "replica.json") {
      continue;
    }
    absl::StatusOr<std::string> text = ReadFile(it->path().string());
    if (!text.ok()) {
      continue;
    }
    nlohmann::json identity = nlohmann::json::parse(*text, nullptr, false);
    if (identity.is_object() && identity.value("pid", 0) > 0) {
      out.emplace_back(identity.value("replica", ""), identity.value("pid", 0));
    }
  }
  return out;
}

void KillReplicaProcesses(const std::string& dir) {
  for (const auto& [replica, pid] : ReplicaPids(dir)) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
  }
}

DaemonProcess::DaemonProcess(const std::string& dir, const std::string& extra_spec,
                             const std::string& state_dir)
    : dir_(dir),
      config_path_(dir + "/daemon.yaml"),
      state_dir_(state_dir.empty() ? dir + "/state" : state_dir),
      log_path_(dir + "/daemon.log") {
  fs::create_directories(dir);
  std::ofstream config(config_path_);
  config << "apiVersion: shadowfleet.dev/v1alpha1\nkind: Daemon\nmetadata: {name: test}\n"
         << "spec:\n  listen: 127.0.0.1:0\n  stateDir: " << state_dir_ << "\n"
         << "  reconcileInterval: 100ms\n  observeInterval: 300ms\n"
         << "  store: {sqlite: {synchronous: normal}}\n  binDir: " << BinaryDir() << "\n"
         << extra_spec;
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    WaitExit(absl::Seconds(5));
  }
}

bool DaemonProcess::Start() {
  size_t offset = log().size();  // Only lines written by this start count.
  SpawnOptions options;
  options.log_path = log_path_;
  options.working_dir = dir_;
  absl::StatusOr<pid_t> pid =
      SpawnDetached({ShadowfleetBinary(), "serve", "--config", config_path_}, options);
  if (!pid.ok()) {
    ADD_FAILURE() << pid.status();
    return false;
  }
  pid_ = *pid;
  static const std::regex kServing("serving on http://127\\.0\\.0\\.1:([0-9]+)");
  return WaitUntil(
      [this, offset] {
        std::string text = log();
        std::smatch match;
        std::string fresh = text.size() > offset ? text.substr(offset) : "";
        if (std::regex_search(fresh, match, kServing)) {
          port_ = std::stoi(match[1]);
          return true;
        }
        return false;
      },
      absl::Seconds(20));
}

void DaemonProcess::Signal(int signal) {
  if (pid_ > 0) {
    kill(pid_, signal);
  }
}

std::optional<int> DaemonProcess::WaitExit(absl::Duration timeout) {
  if (pid_ <= 0) {
    return std::nullopt;
  }
  int status = 0;
  bool done = WaitUntil([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, timeout);
  if (!done) {
    return std::nullopt;
  }
  pid_ = 0;
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  return 128 + WTERMSIG(status);
}

ApiClient DaemonProcess::client() const {
  return *ApiClient::Connect(absl::StrCat("127.0.0.1:", port_));
}

std::string DaemonProcess::log() const {
  absl::StatusOr<std::string> text = ReadFile(log_path_);
  return text.ok() ? *text : "";
}

nlohmann::json GetJson(const ApiClient& client, const std::string& path) {
  absl::StatusOr<nlohmann::json> result = client.Get(path);
  EXPECT_TRUE(result.ok()) << path << ": " << result.status();
  return result.ok() ? *result : nlohmann::json();
}

nlohmann::json PostJson(const ApiClient& client, const std::string& path,
                        const nlohmann::json& body) {
  absl::StatusOr<nlohmann::json> result = client.Post(path, body.dump(), "application/json");
  EXPECT_TRUE(result.ok()) << path << ": " << result.status();
  return result.ok() ? *result : nlohmann::json();
}

std::string ProcessFleetYaml(int replicas, const std::string& message) {
  return absl::StrCat(R"(apiVersion: shadowfleet.dev/v1alpha1
kind: Fleet
metadata: {name: itest}
spec:
  groups:
    - name: app
      replicas: )",
                      replicas, R"(
      instanceType: local.small
      os: {name: debian, version: "12.8"}
      software:
        - {name: openssl, version: 3.0.15}
      configuration:
        message: )",
                      message, R"(
      volumes:
        - name: data
          path: data
          sync: {method: copy, interval: 200ms, maxLag: 5s}
      provider:
        name: process
        settings:
          command: ["{bin}/shadowfleet-workload", "--port", "{port}", "--config", "{config}",
                    "--data", "{dir}/data"]
          stopGracePeriod: 2s
      healthCheck: {path: /healthz, interval: 200ms, timeout: 500ms, failureThreshold: 2}
      shadowing: {replaceUnhealthyAfter: 2s, buildTimeout: 20s}
)");
}

}  // namespace shadowfleet::testing

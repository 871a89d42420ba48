// Shared pieces of the integration tests: temporary directories, polling with a deadline,
// a daemon run as a real `shadowfleet serve` process, and clean-up of every replica process
// a test started. These tests use the wall clock on purpose: they drive real processes.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include <nlohmann/json.hpp>

#include "shadowfleet/cli/api_client.h"

namespace shadowfleet::testing {

// A fresh directory under /tmp, removed (with whatever replica processes it holds) on
// destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Polls `condition` every 50 ms until it holds or `timeout` passes.
bool WaitUntil(const std::function<bool()>& condition, absl::Duration timeout = absl::Seconds(30));

// Kills every process named by a replica.json under `dir` (process provider and the example
// exec plug-in both keep one per replica).
void KillReplicaProcesses(const std::string& dir);

// Pids of the replica processes under `dir`, by replica id.
std::vector<std::pair<std::string, int>> ReplicaPids(const std::string& dir);

// A daemon run as its own process, as an operator runs it.
class DaemonProcess {
 public:
  // Writes a Daemon config into `dir` (state in `state_dir`, default dir/state) for
  // `shadowfleet serve`. `extra_spec` is added under the config's spec: (YAML, indented by
  // two spaces).
  explicit DaemonProcess(const std::string& dir, const std::string& extra_spec = "",
                         const std::string& state_dir = "");
  ~DaemonProcess();

  bool Start();  // Waits until it serves; false if it did not within 20 s.
  void Signal(int signal);
  // Waits for exit; returns the exit status (128+signal if killed), or nullopt on timeout.
  std::optional<int> WaitExit(absl::Duration timeout = absl::Seconds(20));
  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  ApiClient client() const;
  std::string log() const;
  const std::string& state_dir() const { return state_dir_; }

 private:
  std::string dir_;
  std::string config_path_;
  std::string state_dir_;
  std::string log_path_;
  pid_t pid_ = 0;
  int port_ = 0;
};

// Convenience calls that fail the current test on error and return the JSON.
nlohmann::json GetJson(const ApiClient& client, const std::string& path);
nlohmann::json PostJson(const ApiClient& client, const std::string& path,
                        const nlohmann::json& body);

// A fleet spec with one process-provider group running shadowfleet-workload.
std::string ProcessFleetYaml(int replicas, const std::string& message = "hello");

}  // namespace shadowfleet::testing

// Running other programs without a shell: argv vectors only, so that no value from a spec or
// a plug-in response is ever interpreted by /bin/sh. Used by the exec plug-in protocol, user
// volume-sync commands and the process provider.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace shadowfleet {

struct CommandOptions {
  std::string stdin_data;
  absl::Duration timeout = absl::Seconds(30);
  std::map<std::string, std::string> env;  // Added to (or overriding) the inherited environment.
  std::string working_dir;                 // Empty: inherit.
};

struct CommandResult {
  int exit_code = 0;  // 128 + signal number when the child was killed by a signal.
  std::string stdout_data;
  std::string stderr_data;
};

// Runs argv[0] (looked up in PATH) to completion. Fails with INVALID_ARGUMENT for an empty
// argv, NOT_FOUND if the program cannot be started and DEADLINE_EXCEEDED (after killing the
// child's process group) on timeout. A non-zero exit is not an error here: callers decide.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const CommandOptions& options = {});

struct SpawnOptions {
  std::map<std::string, std::string> env;
  std::string working_dir;
  std::string log_path;  // stdout and stderr are appended here; empty: /dev/null.
};

// Starts argv in a new session (its own process group) with every inherited descriptor but
// stdio closed, so that it outlives the caller and holds none of the caller's sockets.
absl::StatusOr<pid_t> SpawnDetached(const std::vector<std::string>& argv,
                                    const SpawnOptions& options);

// Returns the kernel's start time of `pid` (clock ticks since boot), or 0 if there is no such
// live process. Together with the pid it identifies a process across pid reuse.
uint64_t ProcessStartTicks(pid_t pid);

// True if `pid` exists, is not a zombie and started at `start_ticks`. Reaps it if it is a
// zombie child of this process.
bool ProcessAlive(pid_t pid, uint64_t start_ticks);

// Sends SIGTERM to the process group of `pid`, waits up to `grace` for it to exit, then sends
// SIGKILL. Returns once the process is gone.
void StopProcessGroup(pid_t pid, uint64_t start_ticks, absl::Duration grace);

}  // namespace shadowfleet

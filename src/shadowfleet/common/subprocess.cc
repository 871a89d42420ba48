#include "shadowfleet/common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace shadowfleet {
namespace {

// Owns a file descriptor and closes it on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.Release()) {}
  Fd& operator=(Fd&& other) noexcept {
    Reset(other.Release());
    return *this;
  }
  ~Fd() { Reset(); }

  int get() const { return fd_; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset(int fd = -1) {
    if (fd_ >= 0) {
      close(fd_);
    }
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

std::vector<std::string> MergedEnvironment(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> merged;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    size_t eq = entry.find('=');
    if (eq != std::string_view::npos) {
      merged[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
    }
  }
  for (const auto& [key, value] : extra) {
    merged[key] = value;
  }
  std::vector<std::string> out;
  out.reserve(merged.size());
  for (const auto& [key, value] : merged) {
    out.push_back(absl::StrCat(key, "=", value));
  }
  return out;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

// posix_spawn with the descriptor hygiene every child here needs.
absl::StatusOr<pid_t> Spawn(std::vector<std::string> argv, const std::vector<std::string>& env,
                            const std::string& working_dir,
                            const std::vector<std::pair<int, int>>& dups, const std::string& log,
                            bool new_session) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);

  for (const auto& [from, to] : dups) {
    posix_spawn_file_actions_adddup2(&actions, from, to);
  }
  if (!log.empty()) {
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  // Children must not inherit the daemon's sockets: a workload holding the API's listening
  // socket would keep the port busy after the daemon exits.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  if (!working_dir.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, working_dir.c_str());
  }
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (new_session) {
    flags |= POSIX_SPAWN_SETSID;
  } else {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&attr, 0);
  }
  posix_spawnattr_setflags(&attr, flags);
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&attr, &empty);
  sigset_t defaults;
  sigfillset(&defaults);
  posix_spawnattr_setsigdefault(&attr, &defaults);

  std::vector<std::string> env_copy = env;
  auto c_argv = CStrings(argv);
  auto c_env = CStrings(env_copy);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, c_argv[0], &actions, &attr, c_argv.data(), c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return absl::NotFoundError(absl::StrCat("cannot start '", argv[0], "': ", std::strerror(rc)));
  }
  return pid;
}

// Writes to a child's stdin. A child that exits without reading all of its input closes the
// pipe: the write then fails with EPIPE, and the SIGPIPE it raises (which would kill this
// process) is blocked in this thread and discarded.
ssize_t WriteToChild(int fd, const char* data, size_t size) {
  sigset_t pipe_only, previous, pending;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
  sigpending(&pending);
  bool already_pending = sigismember(&pending, SIGPIPE) == 1;
  ssize_t n = write(fd, data, size);
  int saved_errno = errno;
  if (n < 0 && saved_errno == EPIPE && !already_pending) {
    timespec no_wait{0, 0};
    sigtimedwait(&pipe_only, nullptr, &no_wait);
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  errno = saved_errno;
  return n;
}

// Waits for `pid` to exit until `deadline`; false if it is still running then. A child
// usually exits right after closing its output, so the first polls are very short.
bool WaitUntil(pid_t pid, absl::Time deadline, int* status) {
  absl::Duration pause = absl::Microseconds(50);
  while (true) {
    pid_t done = waitpid(pid, status, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) {
      return true;
    }
    if (absl::Now() >= deadline) {
      return false;
    }
    absl::SleepFor(pause);
    pause = std::min(pause * 2, absl::Milliseconds(10));
  }
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return -1;
}

}  // namespace

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const CommandOptions& options) {
  if (argv.empty() || argv[0].empty()) {
    return absl::InvalidArgumentError("empty command");
  }
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  Fd in_read(in_pipe[0]), in_write(in_pipe[1]);
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  Fd out_read(out_pipe[0]), out_write(out_pipe[1]);
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  Fd err_read(err_pipe[0]), err_write(err_pipe[1]);

  auto pid_or = Spawn(argv, MergedEnvironment(options.env), options.working_dir,
                      {{in_read.get(), 0}, {out_write.get(), 1}, {err_write.get(), 2}}, "",
                      /*new_session=*/false);
  if (!pid_or.ok()) {
    return pid_or.status();
  }
  pid_t pid = *pid_or;
  in_read.Reset();
  out_write.Reset();
  err_write.Reset();
  fcntl(in_write.get(), F_SETFL, O_NONBLOCK);

  CommandResult result;
  size_t stdin_offset = 0;
  if (options.stdin_data.empty()) {
    in_write.Reset();
  }
  absl::Time deadline = absl::Now() + options.timeout;
  bool timed_out = false;
  while (out_read.get() >= 0 || err_read.get() >= 0) {
    pollfd fds[3];
    int n = 0;
    auto add = [&](Fd& fd, short events) {
      if (fd.get() >= 0) {
        fds[n++] = {fd.get(), events, 0};
      }
    };
    add(in_write, POLLOUT);
    add(out_read, POLLIN);
    add(err_read, POLLIN);
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      timed_out = true;
      break;
    }
    int ready = poll(fds, n, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno != EINTR) {
      break;
    }
    for (int i = 0; i < n && ready > 0; ++i) {
      if (fds[i].revents == 0) {
        continue;
      }
      if (fds[i].fd == in_write.get()) {
        ssize_t w = WriteToChild(in_write.get(), options.stdin_data.data() + stdin_offset,
                                 options.stdin_data.size() - stdin_offset);
        if (w > 0) {
          stdin_offset += static_cast<size_t>(w);
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
          in_write.Reset();  // The child closed its stdin; it no longer wants input.
        } else if (stdin_offset == options.stdin_data.size()) {
          in_write.Reset();
        }
        continue;
      }
      Fd& source = fds[i].fd == out_read.get() ? out_read : err_read;
      std::string& sink = fds[i].fd == out_read.get() ? result.stdout_data : result.stderr_data;
      char buffer[8192];
      ssize_t r = read(source.get(), buffer, sizeof(buffer));
      if (r > 0) {
        sink.append(buffer, static_cast<size_t>(r));
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        source.Reset();
      }
    }
  }
  in_write.Reset();

  // A child may close its output and keep running: the deadline still applies.
  int status = 0;
  if (!timed_out && !WaitUntil(pid, deadline, &status)) {
    timed_out = true;
  }
  if (timed_out) {
    kill(-pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return absl::DeadlineExceededError(absl::StrCat("'", argv[0], "' did not finish within ",
                                                    absl::FormatDuration(options.timeout)));
  }
  result.exit_code = DecodeWaitStatus(status);
  return result;
}

absl::StatusOr<pid_t> SpawnDetached(const std::vector<std::string>& argv,
                                    const SpawnOptions& options) {
  if (argv.empty() || argv[0].empty()) {
    return absl::InvalidArgumentError("empty command");
  }
  std::string log = options.log_path.empty() ? "/dev/null" : options.log_path;
  return Spawn(argv, MergedEnvironment(options.env), options.working_dir, {}, log,
               /*new_session=*/true);
}

uint64_t ProcessStartTicks(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(in, line)) {
    return 0;
  }
  // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
  size_t close_paren = line.rfind(')');
  if (close_paren == std::string::npos) {
    return 0;
  }
  std::istringstream rest(line.substr(close_paren + 1));
  std::vector<std::string> fields;
  for (std::string field; rest >> field;) {
    fields.push_back(std::move(field));
  }
  // fields[0] is the state (field 3); the start time is field 22.
  if (fields.size() < 20 || fields[0] == "Z" || fields[0] == "X") {
    return 0;
  }
  return std::strtoull(fields[19].c_str(), nullptr, 10);
}

bool ProcessAlive(pid_t pid, uint64_t start_ticks) {
  if (pid <= 0) {
    return false;
  }
  // Reap our own exited child so that it does not linger as a zombie.
  int status = 0;
  waitpid(pid, &status, WNOHANG);
  uint64_t ticks = ProcessStartTicks(pid);
  return ticks != 0 && (start_ticks == 0 || ticks == start_ticks);
}

void StopProcessGroup(pid_t pid, uint64_t start_ticks, absl::Duration grace) {
  if (!ProcessAlive(pid, start_ticks)) {
    return;
  }
  kill(-pid, SIGTERM);
  absl::Time deadline = absl::Now() + grace;
  while (absl::Now() < deadline) {
    if (!ProcessAlive(pid, start_ticks)) {
      return;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  kill(-pid, SIGKILL);
  for (int i = 0; i < 200 && ProcessAlive(pid, start_ticks); ++i) {
    absl::SleepFor(absl::Milliseconds(5));
  }
}

}  // namespace shadowfleet

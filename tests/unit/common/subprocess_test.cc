// Running other programs, with real child processes: output capture, exit codes, stdin,
// timeouts that kill the child, detached processes that outlive the caller and are stopped
// by process group, and the start-time guard against a reused pid.
#include "shadowfleet/common/subprocess.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "testing/temp_dir.h"

#include "shadowfleet/common/files.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::TempDir;

// Real processes take real time: polls `condition` every few milliseconds, for at most
// `limit`.
bool Eventually(const std::function<bool()>& condition, absl::Duration limit = absl::Seconds(10)) {
  absl::Time deadline = absl::Now() + limit;
  while (!condition()) {
    if (absl::Now() > deadline) {
      return false;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// The pid a child wrote into `path` (waits for the file to be written).
pid_t PidFromFile(const std::string& path) {
  int64_t pid = 0;
  Eventually([&] {
    absl::StatusOr<std::string> text = ReadFile(path);
    return text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid);
  });
  return static_cast<pid_t>(pid);
}

TEST(RunCommand, CapturesStdoutAndStderrSeparately) {
  absl::StatusOr<CommandResult> run =
      RunCommand({"sh", "-c", "echo to-stdout; echo to-stderr >&2"});
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 0);
  EXPECT_EQ(run->stdout_data, "to-stdout\n");
  EXPECT_EQ(run->stderr_data, "to-stderr\n");
}

TEST(RunCommand, ReportsANonZeroExitAsAResultNotAnError) {
  absl::StatusOr<CommandResult> run = RunCommand({"sh", "-c", "echo partial; exit 7"});
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 7);
  EXPECT_EQ(run->stdout_data, "partial\n");
}

TEST(RunCommand, ReportsDeathBySignalAs128PlusTheSignal) {
  absl::StatusOr<CommandResult> run = RunCommand({"sh", "-c", "kill -KILL $$"});
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 128 + SIGKILL);
}

TEST(RunCommand, DeliversStdinToTheChild) {
  CommandOptions options;
  options.stdin_data = "{\"operation\": \"check\"}\nsecond line";
  absl::StatusOr<CommandResult> run = RunCommand({"cat"}, options);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->stdout_data, options.stdin_data);
}

TEST(RunCommand, StreamsMegabytesThroughStdinAndStdoutAtOnceWithoutDeadlock) {
  CommandOptions options;
  options.timeout = absl::Seconds(20);
  options.stdin_data.reserve(4 << 20);
  for (int i = 0; options.stdin_data.size() < (4u << 20); ++i) {
    absl::StrAppend(&options.stdin_data, "line ", i, "\n");
  }
  absl::StatusOr<CommandResult> run = RunCommand({"cat"}, options);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->stdout_data.size(), options.stdin_data.size());
  EXPECT_TRUE(run->stdout_data == options.stdin_data);
}

TEST(RunCommand, CapturesMoreThanAMegabyteOnBothStreams) {
  CommandOptions options;
  options.timeout = absl::Seconds(20);
  absl::StatusOr<CommandResult> run = RunCommand(
      {"sh", "-c", "head -c 3000000 /dev/zero >&2; head -c 5000000 /dev/zero; echo done >&2"},
      options);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 0);
  EXPECT_EQ(run->stdout_data.size(), 5'000'000u);
  EXPECT_EQ(run->stderr_data.size(), 3'000'005u);
}

TEST(RunCommand, SucceedsWhenTheChildIgnoresALargeStdin) {
  // The child exits without reading: writing the rest must not kill the caller (SIGPIPE).
  CommandOptions options;
  options.stdin_data = std::string(2 << 20, 'x');
  absl::StatusOr<CommandResult> run = RunCommand({"true"}, options);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 0);
}

TEST(RunCommand, PassesArgumentsVerbatimWithoutAShell) {
  absl::StatusOr<CommandResult> run = RunCommand({"echo", "$HOME; echo injected", "*"});
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->stdout_data, "$HOME; echo injected *\n");
}

TEST(RunCommand, AddsEnvironmentVariablesAndRunsInTheWorkingDirectory) {
  TempDir dir;
  CommandOptions options;
  options.env = {{"SF_TEST_VALUE", "from-test"}};
  options.working_dir = dir.path();
  absl::StatusOr<CommandResult> run =
      RunCommand({"sh", "-c", "echo $SF_TEST_VALUE; pwd; echo ${PATH:+path-inherited}"}, options);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->stdout_data,
            absl::StrCat("from-test\n", std::filesystem::canonical(dir.path()).string(),
                         "\npath-inherited\n"));
}

TEST(RunCommand, DoesNotLeakTheCallersDescriptorsToTheChild) {
  int fd = open("/dev/null", O_RDONLY);  // Deliberately without O_CLOEXEC.
  ASSERT_GE(fd, 3);
  absl::StatusOr<CommandResult> run = RunCommand(
      {"sh", "-c", absl::StrCat("if [ -e /proc/$$/fd/", fd, " ]; then echo leaked; fi")});
  close(fd);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->stdout_data, "");
}

TEST(RunCommand, TimeoutIsDeadlineExceededAndKillsTheWholeProcessGroup) {
  TempDir dir;
  std::string pid_file = dir.File("grandchild.pid");
  CommandOptions options;
  options.timeout = absl::Seconds(1);
  absl::Time start = absl::Now();
  absl::StatusOr<CommandResult> run =
      RunCommand({"sh", "-c", absl::StrCat("sleep 30 & echo $! > ", pid_file, "; wait")}, options);
  absl::Duration took = absl::Now() - start;

  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), absl::StatusCode::kDeadlineExceeded) << run.status();
  EXPECT_LT(took, absl::Seconds(10));
  pid_t grandchild = PidFromFile(pid_file);
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(Eventually([&] { return ProcessStartTicks(grandchild) == 0; }))
      << "the child's own children must be killed too";
}

TEST(RunCommand, TimeoutStillAppliesAfterTheChildClosesItsOutput) {
  CommandOptions options;
  options.timeout = absl::Milliseconds(200);
  absl::Time start = absl::Now();
  absl::StatusOr<CommandResult> run =
      RunCommand({"sh", "-c", "exec >/dev/null 2>&1; exec sleep 5"}, options);
  absl::Duration took = absl::Now() - start;
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), absl::StatusCode::kDeadlineExceeded) << run.status();
  EXPECT_LT(took, absl::Seconds(3));
}

TEST(RunCommand, MissingProgramIsNotFound) {
  absl::StatusOr<CommandResult> run = RunCommand({"shadowfleet-no-such-program", "x"});
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(run.status().message().find("shadowfleet-no-such-program"), std::string::npos);
}

TEST(RunCommand, EmptyArgvIsInvalidArgument) {
  EXPECT_EQ(RunCommand({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RunCommand({""}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SpawnDetached, StartsAProcessInItsOwnSessionThatStopProcessGroupEnds) {
  absl::StatusOr<pid_t> pid = SpawnDetached({"sleep", "30"}, {});
  ASSERT_TRUE(pid.ok()) << pid.status();
  uint64_t ticks = ProcessStartTicks(*pid);
  ASSERT_NE(ticks, 0u);
  EXPECT_TRUE(ProcessAlive(*pid, ticks));
  EXPECT_EQ(getsid(*pid), *pid) << "a detached process leads its own session";
  EXPECT_EQ(getpgid(*pid), *pid);

  StopProcessGroup(*pid, ticks, absl::Seconds(5));
  EXPECT_FALSE(ProcessAlive(*pid, ticks));
  EXPECT_EQ(ProcessStartTicks(*pid), 0u);
}

TEST(SpawnDetached, ProcessAliveRejectsADifferentStartTimeAsAReusedPid) {
  absl::StatusOr<pid_t> pid = SpawnDetached({"sleep", "30"}, {});
  ASSERT_TRUE(pid.ok()) << pid.status();
  uint64_t ticks = ProcessStartTicks(*pid);
  ASSERT_NE(ticks, 0u);

  EXPECT_FALSE(ProcessAlive(*pid, ticks + 1));
  EXPECT_TRUE(ProcessAlive(*pid, 0)) << "start ticks 0 means: any process with this pid";
  // Stopping "the process that started at ticks + 1" must leave this one alone.
  StopProcessGroup(*pid, ticks + 1, absl::Milliseconds(100));
  EXPECT_TRUE(ProcessAlive(*pid, ticks));

  StopProcessGroup(*pid, ticks, absl::Seconds(5));
  EXPECT_FALSE(ProcessAlive(*pid, ticks));
}

TEST(SpawnDetached, StopProcessGroupKillsAGroupThatIgnoresSigterm) {
  TempDir dir;
  std::string pid_file = dir.File("child.pid");
  absl::StatusOr<pid_t> pid = SpawnDetached(
      {"sh", "-c", absl::StrCat("trap '' TERM; sleep 30 & echo $! > ", pid_file, "; wait")}, {});
  ASSERT_TRUE(pid.ok()) << pid.status();
  uint64_t ticks = ProcessStartTicks(*pid);
  pid_t child = PidFromFile(pid_file);
  ASSERT_GT(child, 0);

  absl::Time start = absl::Now();
  StopProcessGroup(*pid, ticks, absl::Milliseconds(300));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300)) << "SIGTERM is ignored: grace is used";
  EXPECT_FALSE(ProcessAlive(*pid, ticks));
  EXPECT_TRUE(Eventually([&] { return ProcessStartTicks(child) == 0; }))
      << "SIGKILL goes to the whole group";
}

TEST(SpawnDetached, AppendsOutputToTheLogAndUsesEnvironmentAndWorkingDirectory) {
  TempDir dir;
  std::string log = dir.File("replica.log");
  ASSERT_TRUE(WriteFileAtomically(log, "earlier\n").ok());
  SpawnOptions options;
  options.log_path = log;
  options.env = {{"SF_REPLICA", "web-0-l1"}};
  options.working_dir = dir.path();
  absl::StatusOr<pid_t> pid =
      SpawnDetached({"sh", "-c", "echo $SF_REPLICA; echo oops >&2; touch here"}, options);
  ASSERT_TRUE(pid.ok()) << pid.status();

  EXPECT_TRUE(Eventually([&] { return !ProcessAlive(*pid, 0); }));
  EXPECT_EQ(ReadFile(log).value_or(""), "earlier\nweb-0-l1\noops\n");
  EXPECT_TRUE(std::filesystem::exists(dir.File("here")));
}

TEST(SpawnDetached, ProcessAliveReapsAnExitedChild) {
  absl::StatusOr<pid_t> pid = SpawnDetached({"true"}, {});
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_TRUE(Eventually([&] { return !ProcessAlive(*pid, 0); }));
  EXPECT_EQ(ProcessStartTicks(*pid), 0u);
}

TEST(SpawnDetached, MissingProgramIsNotFoundAndEmptyArgvIsInvalid) {
  EXPECT_EQ(SpawnDetached({"shadowfleet-no-such-program"}, {}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(SpawnDetached({}, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ProcessStartTicks, ParsesACommandNameWithSpacesAndParentheses) {
  TempDir dir;
  std::string odd = dir.File("a b) (c");
  std::filesystem::copy_file("/bin/sleep", odd);
  std::filesystem::permissions(odd, std::filesystem::perms::owner_all);
  absl::StatusOr<pid_t> pid = SpawnDetached({odd, "30"}, {});
  ASSERT_TRUE(pid.ok()) << pid.status();
  uint64_t ticks = ProcessStartTicks(*pid);
  EXPECT_NE(ticks, 0u);
  EXPECT_GE(ticks, ProcessStartTicks(getpid())) << "started after this test process";
  StopProcessGroup(*pid, ticks, absl::Seconds(5));
  EXPECT_FALSE(ProcessAlive(*pid, ticks));
}

TEST(ProcessStartTicks, IsZeroForANonExistentProcess) {
  EXPECT_EQ(ProcessStartTicks(-1), 0u);
  EXPECT_FALSE(ProcessAlive(0, 0));
  EXPECT_FALSE(ProcessAlive(-1, 0));
  EXPECT_NE(ProcessStartTicks(getpid()), 0u);
  EXPECT_EQ(ProcessStartTicks(getpid()), ProcessStartTicks(getpid()));
}

}  // namespace
}  // namespace shadowfleet

// An HTTP load generator for end-to-end tests and the demo: GET requests to one target at a
// fixed rate. The schedule is open-loop: request i is due at start + i / rate whatever the
// responses do, so a slow or failing target does not lower the load it is offered. Latency is
// measured from when a request was due, not from when a connection was free to send it, so
// queueing behind slow responses shows up in the percentiles.
//
//   LoadGenerator load({.port = 8080, .rate = 500});
//   load.Start();
//   ...                                  // switch traffic, kill a replica, ...
//   load.Stop();
//   LoadSnapshot result = load.Snapshot();
//
// It measures real time with the real clock: it exists to drive real servers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include <nlohmann/json.hpp>

#include "shadowfleet/loadgen/latency_histogram.h"

namespace shadowfleet {

struct LoadGeneratorOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/";
  double rate = 100;     // Requests per second.
  int connections = 16;  // Keep-alive connections, each with its own thread.
  // A sent request not answered within this time fails as a timeout. So does a request that
  // no connection was free to send within this time of being due, or before Stop(): it is
  // then not sent at all, and also counted as unsent.
  absl::Duration timeout = absl::Seconds(2);
  // Stops scheduling requests after this long; zero: until Stop().
  absl::Duration duration = absl::ZeroDuration();
};

// Outcomes of the requests that were due in one second of the run.
struct SecondCounts {
  int64_t sent = 0;
  int64_t succeeded = 0;
  int64_t failed = 0;
};

struct LoadSnapshot {
  // Since Start(); once the run is over, from Start() to when its last request completed.
  absl::Duration elapsed;
  int64_t sent = 0;       // Requests due so far, whatever became of them.
  int64_t succeeded = 0;  // Answered 2xx or 3xx.
  // Failures by kind.
  int64_t connect_errors = 0;  // No connection to the target (refused, unreachable).
  int64_t timeouts = 0;        // No answer in time, unsent requests included.
  int64_t http_5xx = 0;
  int64_t other_errors = 0;  // Other statuses; connections broken mid-request.
  int64_t unsent = 0;        // Due, but no connection was free to send them in time.
  // Latency of succeeded requests, from when each was due.
  absl::Duration p50, p90, p99, max;
  std::vector<SecondCounts> per_second;  // Index: the second of the run a request was due in.

  int64_t Failed() const { return connect_errors + timeouts + http_5xx + other_errors; }
  int64_t InFlight() const { return sent - succeeded - Failed(); }
  double AchievedRate() const;  // Completed requests per second of elapsed time.
  nlohmann::json ToJson() const;
};

// Start(), Stop() and Wait() are for one controlling thread; Snapshot() and Done() may be
// called from any thread while the load runs.
class LoadGenerator {
 public:
  explicit LoadGenerator(LoadGeneratorOptions options);
  ~LoadGenerator();  // Stops.
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;
  LoadGenerator(LoadGenerator&&) = delete;
  LoadGenerator& operator=(LoadGenerator&&) = delete;

  // Starts the connection threads. INVALID_ARGUMENT for a rate, connection count, port or
  // timeout out of range; FAILED_PRECONDITION if already started.
  absl::Status Start();

  // Stops scheduling, waits for requests in flight (at most the timeout) and joins the
  // threads. Requests due by now that no connection has sent count as unsent. Idempotent.
  void Stop();

  // Blocks until the configured duration has passed and the last requests have completed.
  // Returns at once when no duration was set.
  void Wait();

  // True once every connection thread has finished: the run's duration is over and its last
  // requests completed, or Stop() was called.
  bool Done() const { return started_ && running_ == 0; }

  LoadSnapshot Snapshot() const;
  const LoadGeneratorOptions& options() const { return options_; }

 private:
  using SteadyClock = std::chrono::steady_clock;
  enum class Outcome { kSucceeded, kConnectError, kTimeout, kHttp5xx, kOther, kUnsent };

  void RunConnection();
  SteadyClock::time_point DueTime(int64_t request) const;
  int64_t SecondOf(int64_t request) const;
  // Sleeps until `due`; false if the generator was stopped meanwhile.
  bool SleepUntil(SteadyClock::time_point due) const;
  void Record(int64_t request, Outcome outcome, absl::Duration latency);
  void RecordDueLocked(int64_t request) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecordLocked(int64_t request, Outcome outcome, absl::Duration latency)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Joins the threads and marks the end of the run, once. With `stopped`, requests due before
  // the stop that no connection took are counted as unsent.
  void Finish(bool stopped);

  const LoadGeneratorOptions options_;
  SteadyClock::time_point start_;  // Written by Start() before the threads exist.
  absl::Duration interval_;        // Between due times.
  SteadyClock::time_point schedule_end_;
  absl::Notification stop_;
  // When Stop() was called; written before stop_ is notified.
  std::atomic<SteadyClock::time_point> stop_time_{SteadyClock::time_point::max()};
  std::atomic<int64_t> next_request_{0};  // The next request a connection may take.
  std::atomic<bool> started_{false};
  std::atomic<int> running_{0};       // Connection threads not yet finished.
  std::vector<std::thread> threads_;  // Owned by the controlling thread.

  mutable absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  SteadyClock::duration finished_after_ ABSL_GUARDED_BY(mu_){};
  LoadSnapshot counts_ ABSL_GUARDED_BY(mu_);
  LatencyHistogram latency_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shadowfleet

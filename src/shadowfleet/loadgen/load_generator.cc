#include "shadowfleet/loadgen/load_generator.h"

#include <httplib.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/logging.h"

namespace shadowfleet {
namespace {

void SetTimeouts(httplib::Client& client, absl::Duration timeout) {
  int64_t micros = absl::ToInt64Microseconds(timeout);
  client.set_connection_timeout(micros / 1'000'000, micros % 1'000'000);
  client.set_read_timeout(micros / 1'000'000, micros % 1'000'000);
  client.set_write_timeout(micros / 1'000'000, micros % 1'000'000);
}

double Millis(absl::Duration d) {
  return absl::ToDoubleMilliseconds(d);
}

}  // namespace

double LoadSnapshot::AchievedRate() const {
  double seconds = absl::ToDoubleSeconds(elapsed);
  return seconds > 0 ? static_cast<double>(succeeded + Failed()) / seconds : 0;
}

nlohmann::json LoadSnapshot::ToJson() const {
  nlohmann::json seconds = nlohmann::json::array();
  for (size_t i = 0; i < per_second.size(); ++i) {
    seconds.push_back({{"second", i},
                       {"sent", per_second[i].sent},
                       {"succeeded", per_second[i].succeeded},
                       {"failed", per_second[i].failed}});
  }
  return {
      {"elapsedSeconds", absl::ToDoubleSeconds(elapsed)},
      {"sent", sent},
      {"succeeded", succeeded},
      {"failed",
       {{"total", Failed()},
        {"connect", connect_errors},
        {"timeout", timeouts},
        {"http5xx", http_5xx},
        {"other", other_errors},
        {"unsent", unsent}}},
      {"inFlight", InFlight()},
      {"achievedRate", AchievedRate()},
      {"latencyMs",
       {{"p50", Millis(p50)}, {"p90", Millis(p90)}, {"p99", Millis(p99)}, {"max", Millis(max)}}},
      {"perSecond", seconds}};
}

LoadGenerator::LoadGenerator(LoadGeneratorOptions options) : options_(std::move(options)) {}

LoadGenerator::~LoadGenerator() {
  Stop();
}

absl::Status LoadGenerator::Start() {
  if (options_.rate <= 0 || options_.rate > 1e6) {
    return absl::InvalidArgumentError(
        absl::StrCat("rate must be in (0, 1e6], got ", options_.rate));
  }
  if (options_.connections < 1 || options_.connections > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("connections must be 1..1024, got ", options_.connections));
  }
  if (options_.port < 1 || options_.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("port must be 1..65535, got ", options_.port));
  }
  if (options_.timeout <= absl::ZeroDuration() || options_.duration < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeout must be positive and duration not negative");
  }
  if (started_.exchange(true)) {
    return absl::FailedPreconditionError("the load generator was already started");
  }
  interval_ = absl::Seconds(1) / options_.rate;
  start_ = SteadyClock::now();
  schedule_end_ = options_.duration > absl::ZeroDuration()
                      ? start_ + absl::ToChronoNanoseconds(options_.duration)
                      : SteadyClock::time_point::max();
  running_ = options_.connections;
  for (int i = 0; i < options_.connections; ++i) {
    threads_.emplace_back([this] { RunConnection(); });
  }
  Logger("loadgen")->info("load started target={}:{} path={} rate={} connections={}", options_.host,
                          options_.port, options_.path, options_.rate, options_.connections);
  return absl::OkStatus();
}

void LoadGenerator::Stop() {
  if (!started_) {
    return;
  }
  if (!stop_.HasBeenNotified()) {
    stop_time_ = SteadyClock::now();
    stop_.Notify();
  }
  Finish(/*stopped=*/true);
}

void LoadGenerator::Wait() {
  if (!started_ || (options_.duration == absl::ZeroDuration() && !stop_.HasBeenNotified())) {
    return;
  }
  Finish(/*stopped=*/false);
}

void LoadGenerator::Finish(bool stopped) {
  for (std::thread& thread : threads_) {
    if (thread.joinable()) {
      thread.join();
    }
  }
  absl::MutexLock lock(&mu_);
  if (finished_) {
    return;
  }
  finished_ = true;
  finished_after_ = SteadyClock::now() - start_;

  // Requests due before the stop that no connection ever took: the target was too slow for
  // the connections to keep up, and the load owed to it was not delivered.
  if (stopped) {
    SteadyClock::time_point end = std::min(stop_time_.load(), schedule_end_);
    for (int64_t request = next_request_.load(); DueTime(request) < end; ++request) {
      RecordDueLocked(request);
      RecordLocked(request, Outcome::kUnsent, absl::ZeroDuration());
    }
  }
  Logger("loadgen")->info("load finished sent={} succeeded={} failed={} unsent={}", counts_.sent,
                          counts_.succeeded, counts_.Failed(), counts_.unsent);
}

LoadGenerator::SteadyClock::time_point LoadGenerator::DueTime(int64_t request) const {
  return start_ + std::chrono::duration_cast<SteadyClock::duration>(
                      absl::ToChronoNanoseconds(interval_ * request));
}

int64_t LoadGenerator::SecondOf(int64_t request) const {
  return std::chrono::duration_cast<std::chrono::seconds>(DueTime(request) - start_).count();
}

bool LoadGenerator::SleepUntil(SteadyClock::time_point due) const {
  SteadyClock::duration left = due - SteadyClock::now();
  if (left <= SteadyClock::duration::zero()) {
    return !stop_.HasBeenNotified();
  }
  return !stop_.WaitForNotificationWithTimeout(absl::FromChrono(left));
}

void LoadGenerator::RunConnection() {
  httplib::Client client(options_.host, options_.port);
  client.set_keep_alive(true);
  // Requests are one small segment each: without this, Nagle's algorithm can hold a request
  // on a keep-alive connection until the previous response's ACK.
  client.set_tcp_nodelay(true);
  SetTimeouts(client, options_.timeout);
  // `waited`: from sending the request to its outcome.
  auto classify = [this](const httplib::Result& result, absl::Duration waited) {
    if (result) {
      int status = result->status;
      return status >= 200 && status < 400 ? Outcome::kSucceeded
             : status >= 500               ? Outcome::kHttp5xx
                                           : Outcome::kOther;
    }
    httplib::Error error = result.error();
    if (error == httplib::Error::Connection || error == httplib::Error::ConnectionTimeout) {
      return Outcome::kConnectError;
    }
    return waited >= options_.timeout ? Outcome::kTimeout : Outcome::kOther;
  };

  while (true) {
    int64_t request = next_request_.fetch_add(1);
    SteadyClock::time_point due = DueTime(request);
    if (due >= schedule_end_) {
      break;
    }
    if (!SleepUntil(due)) {
      if (due < stop_time_.load()) {
        absl::MutexLock lock(&mu_);
        RecordDueLocked(request);
        RecordLocked(request, Outcome::kUnsent, absl::ZeroDuration());
      }
      break;
    }
    {
      absl::MutexLock lock(&mu_);
      RecordDueLocked(request);
    }

    // A request no connection could send while it was due has timed out for its client.
    if (absl::FromChrono(SteadyClock::now() - due) > options_.timeout) {
      Record(request, Outcome::kUnsent, absl::ZeroDuration());
      continue;
    }
    SteadyClock::time_point sent = SteadyClock::now();
    httplib::Result result = client.Get(options_.path);
    SteadyClock::time_point done = SteadyClock::now();
    absl::Duration latency = absl::FromChrono(done - due);
    Record(request, classify(result, absl::FromChrono(done - sent)), latency);
  }
  running_--;
}

void LoadGenerator::RecordDueLocked(int64_t request) {
  auto second = static_cast<size_t>(SecondOf(request));
  if (counts_.per_second.size() <= second) {
    counts_.per_second.resize(second + 1);
  }
  counts_.per_second[second].sent++;
  counts_.sent++;
}

void LoadGenerator::Record(int64_t request, Outcome outcome, absl::Duration latency) {
  absl::MutexLock lock(&mu_);
  RecordLocked(request, outcome, latency);
}

void LoadGenerator::RecordLocked(int64_t request, Outcome outcome, absl::Duration latency) {
  auto second = static_cast<size_t>(SecondOf(request));
  SecondCounts& bucket = counts_.per_second[second];
  switch (outcome) {
    case Outcome::kSucceeded:
      counts_.succeeded++;
      bucket.succeeded++;
      latency_.Record(latency);
      return;
    case Outcome::kConnectError:
      counts_.connect_errors++;
      break;
    case Outcome::kTimeout:
      counts_.timeouts++;
      break;
    case Outcome::kUnsent:
      counts_.timeouts++;
      counts_.unsent++;
      break;
    case Outcome::kHttp5xx:
      counts_.http_5xx++;
      break;
    case Outcome::kOther:
      counts_.other_errors++;
      break;
  }
  bucket.failed++;
}

LoadSnapshot LoadGenerator::Snapshot() const {
  absl::MutexLock lock(&mu_);
  LoadSnapshot snapshot = counts_;
  if (finished_) {
    snapshot.elapsed = absl::FromChrono(finished_after_);
  } else if (started_) {
    snapshot.elapsed = absl::FromChrono(SteadyClock::now() - start_);
  }
  snapshot.p50 = latency_.Percentile(50);
  snapshot.p90 = latency_.Percentile(90);
  snapshot.p99 = latency_.Percentile(99);
  snapshot.max = latency_.max();
  return snapshot;
}

}  // namespace shadowfleet

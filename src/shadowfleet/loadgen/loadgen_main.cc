// shadowfleet-loadgen: offers a fixed rate of HTTP GET requests to one target and reports
// what became of them, for demos and end-to-end tests of traffic switches.
//
//   shadowfleet-loadgen --target 127.0.0.1:8080 --path / --rate 500 --duration 30s
//                       --connections 16 --report out.json
//
// SIGINT or SIGTERM ends the run early; the report is still written. Exit status: 0 when the
// run completed (whatever the failures), 1 if the report could not be written, 2 for bad
// flags.
#include <signal.h>
#include <time.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <CLI/CLI.hpp>

#include "shadowfleet/common/http_client.h"
#include "shadowfleet/loadgen/load_generator.h"

namespace shadowfleet {
namespace {

struct Flags {
  std::string target;
  std::string path = "/";
  double rate = 500;
  std::string duration = "30s";
  int connections = 16;
  std::string timeout = "2s";
  std::string report;
};

// Waits for the run to end on its own, or for SIGINT/SIGTERM to end it early.
void WaitForEnd(LoadGenerator& load, const sigset_t& signals) {
  timespec poll = absl::ToTimespec(absl::Milliseconds(100));
  while (!load.Done()) {
    if (sigtimedwait(&signals, nullptr, &poll) > 0) {
      std::fprintf(stderr, "shadowfleet-loadgen: interrupted, stopping\n");
      break;
    }
  }
  load.Stop();
}

void PrintSummary(const LoadGeneratorOptions& options, const LoadSnapshot& s) {
  std::printf("%lld requests in %.1f s to %s:%d%s (%.1f/s offered, %.1f/s completed)\n",
              static_cast<long long>(s.sent), absl::ToDoubleSeconds(s.elapsed),
              options.host.c_str(), options.port, options.path.c_str(), options.rate,
              s.AchievedRate());
  std::printf(
      "  succeeded %lld, failed %lld (connect %lld, timeout %lld, 5xx %lld, other %lld;"
      " unsent %lld)\n",
      static_cast<long long>(s.succeeded), static_cast<long long>(s.Failed()),
      static_cast<long long>(s.connect_errors), static_cast<long long>(s.timeouts),
      static_cast<long long>(s.http_5xx), static_cast<long long>(s.other_errors),
      static_cast<long long>(s.unsent));
  std::printf("  latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
              absl::ToDoubleMilliseconds(s.p50), absl::ToDoubleMilliseconds(s.p90),
              absl::ToDoubleMilliseconds(s.p99), absl::ToDoubleMilliseconds(s.max));
}

int Run(int argc, char** argv) {
  Flags flags;
  CLI::App app{"Offers a fixed rate of HTTP GET requests to one target and reports the outcome",
               "shadowfleet-loadgen"};
  app.add_option("--target", flags.target, "host:port to send requests to")->required();
  app.add_option("--path", flags.path, "Request path")->capture_default_str();
  app.add_option("--rate", flags.rate, "Requests per second, kept whatever the responses")
      ->capture_default_str();
  app.add_option("--duration", flags.duration, "How long to run, e.g. 30s or 2m")
      ->capture_default_str();
  app.add_option("--connections", flags.connections, "Keep-alive connections (one thread each)")
      ->capture_default_str();
  app.add_option("--timeout", flags.timeout, "Per-request timeout")->capture_default_str();
  app.add_option("--report", flags.report, "Write the full report (JSON) to this file");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  LoadGeneratorOptions options;
  absl::StatusOr<std::pair<std::string, int>> target = ParseHostPort(flags.target);
  absl::Duration duration;
  if (!target.ok() || !absl::ParseDuration(flags.duration, &duration) ||
      !absl::ParseDuration(flags.timeout, &options.timeout) || duration <= absl::ZeroDuration()) {
    std::fprintf(stderr,
                 "shadowfleet-loadgen: --target must be host:port, --duration and "
                 "--timeout positive durations such as 30s\n");
    return 2;
  }
  options.host = target->first;
  options.port = target->second;
  options.path = flags.path;
  options.rate = flags.rate;
  options.connections = flags.connections;
  options.duration = duration;

  // Blocked before the connection threads exist, so that only sigtimedwait() receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  LoadGenerator load(options);
  if (absl::Status started = load.Start(); !started.ok()) {
    std::fprintf(stderr, "shadowfleet-loadgen: %s\n", std::string(started.message()).c_str());
    return 2;
  }
  WaitForEnd(load, signals);
  LoadSnapshot result = load.Snapshot();
  PrintSummary(options, result);

  if (!flags.report.empty()) {
    nlohmann::json report = result.ToJson();
    report["target"] = flags.target;
    report["path"] = options.path;
    report["rate"] = options.rate;
    report["connections"] = options.connections;
    report["durationSeconds"] = absl::ToDoubleSeconds(duration);
    std::ofstream out(flags.report);
    out << report.dump(2) << "\n";
    if (!out.good()) {
      std::fprintf(stderr, "shadowfleet-loadgen: cannot write %s\n", flags.report.c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace shadowfleet

int main(int argc, char** argv) {
  return shadowfleet::Run(argc, argv);
}

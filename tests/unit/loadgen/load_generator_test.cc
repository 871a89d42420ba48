// The load generator against real servers — the project's workload, and a trivial server in
// this process: it offers the rate it was given whatever the target does, counts every
// outcome, sees a target go down in the per-second counts, and sustains 1,000 requests/s on a
// small machine. The binary is run once end to end. Real time, real sockets: each test runs
// for a second or a few.
#include "shadowfleet/loadgen/load_generator.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "testing/real_servers.h"
#include "testing/temp_dir.h"

#include "shadowfleet/common/files.h"
#include "shadowfleet/common/subprocess.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::FreePort;
using ::shadowfleet::testing::TempDir;
using ::shadowfleet::testing::WorkloadProcess;

// An HTTP server in this process answering "ok" on / after `delay` (503 on /unavailable, 404
// on /missing, late on /hang), with a thread for every connection the tests open and
// TCP_NODELAY, so that it is never what limits the load.
class TrivialServer {
 public:
  explicit TrivialServer(absl::Duration delay = absl::ZeroDuration()) {
    server_.set_tcp_nodelay(true);
    server_.set_keep_alive_max_count(100000);
    server_.new_task_queue = [] { return new httplib::ThreadPool(32); };
    server_.Get("/", [delay](const httplib::Request&, httplib::Response& response) {
      absl::SleepFor(delay);
      response.set_content("ok\n", "text/plain");
    });
    server_.Get("/unavailable", [](const httplib::Request&, httplib::Response& response) {
      response.status = 503;
    });
    server_.Get("/missing", [](const httplib::Request&, httplib::Response& response) {
      response.status = 404;
    });
    server_.Get("/hang", [](const httplib::Request&, httplib::Response& response) {
      absl::SleepFor(absl::Milliseconds(600));
      response.set_content("late\n", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() does nothing until the accept loop runs.
    while (!server_.is_running()) {
      absl::SleepFor(absl::Milliseconds(1));
    }
  }
  ~TrivialServer() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

class LoadGeneratorAgainstWorkload : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(WorkloadProcess::Binary().c_str(), X_OK) != 0) {
      GTEST_SKIP() << "no workload binary at " << WorkloadProcess::Binary()
                   << ": build the shadowfleet-workload target";
    }
    ASSERT_TRUE(workload_.Start(dir_.path(), "A"));
  }

  LoadGeneratorOptions Options(double rate, absl::Duration duration) const {
    LoadGeneratorOptions options;
    options.port = workload_.port();
    options.rate = rate;
    options.duration = duration;
    options.connections = 8;
    return options;
  }

  TempDir dir_;
  WorkloadProcess workload_;
};

TEST_F(LoadGeneratorAgainstWorkload, OffersTheRateAndCountsEverySuccess) {
  LoadGenerator load(Options(200, absl::Milliseconds(1500)));
  ASSERT_TRUE(load.Start().ok());
  load.Wait();
  LoadSnapshot result = load.Snapshot();

  EXPECT_EQ(result.sent, 300);
  EXPECT_EQ(result.succeeded, 300);
  EXPECT_EQ(result.Failed(), 0);
  EXPECT_EQ(result.InFlight(), 0);
  ASSERT_EQ(result.per_second.size(), 2u);
  EXPECT_EQ(result.per_second[0].succeeded, 200);
  EXPECT_EQ(result.per_second[1].succeeded, 100);
  EXPECT_GT(result.p50, absl::ZeroDuration());
  EXPECT_LE(result.p50, result.p90);
  EXPECT_LE(result.p99, result.max);
  EXPECT_NEAR(absl::ToDoubleSeconds(result.elapsed), 1.5, 0.5);
}

TEST_F(LoadGeneratorAgainstWorkload, CountsConnectErrorsWhenTheTargetIsDown) {
  LoadGeneratorOptions options = Options(100, absl::Seconds(1));
  options.port = FreePort();
  LoadGenerator load(options);
  ASSERT_TRUE(load.Start().ok());
  load.Wait();
  LoadSnapshot result = load.Snapshot();
  EXPECT_EQ(result.sent, 100);
  EXPECT_EQ(result.succeeded, 0);
  EXPECT_EQ(result.connect_errors, 100);
  EXPECT_EQ(result.per_second[0].failed, 100);
}

TEST_F(LoadGeneratorAgainstWorkload, ShowsWhenTheTargetWentDownSecondBySecond) {
  LoadGenerator load(Options(100, absl::ZeroDuration()));
  ASSERT_TRUE(load.Start().ok());
  absl::SleepFor(absl::Milliseconds(1200));
  workload_.Stop();
  absl::SleepFor(absl::Milliseconds(1900));
  load.Stop();
  LoadSnapshot result = load.Snapshot();

  ASSERT_GE(result.per_second.size(), 3u);
  EXPECT_EQ(result.per_second[0].succeeded, 100);
  EXPECT_EQ(result.per_second[0].failed, 0);
  EXPECT_EQ(result.per_second[2].succeeded, 0);
  EXPECT_GT(result.per_second[2].failed, 90);
  EXPECT_GT(result.connect_errors + result.other_errors, 150);
}

TEST(LoadGenerator, SustainsAThousandRequestsPerSecond) {
  TrivialServer server;
  LoadGeneratorOptions options;
  options.port = server.port();
  options.rate = 1000;
  options.duration = absl::Seconds(3);
  options.connections = 16;
  LoadGenerator load(options);
  ASSERT_TRUE(load.Start().ok());
  load.Wait();
  LoadSnapshot result = load.Snapshot();
  std::printf(
      "1000/s for 3 s over 16 connections: %lld sent, %lld succeeded, %lld failed, "
      "%.0f/s completed, p50 %.2f ms, p99 %.2f ms\n",
      static_cast<long long>(result.sent), static_cast<long long>(result.succeeded),
      static_cast<long long>(result.Failed()), result.AchievedRate(),
      absl::ToDoubleMilliseconds(result.p50), absl::ToDoubleMilliseconds(result.p99));
  EXPECT_EQ(result.sent, 3000);
  // A shared CI machine stalls now and then for longer than a request's timeout.
  EXPECT_GE(result.succeeded, 2950);
  EXPECT_GE(result.AchievedRate(), 950);
}

TEST(LoadGenerator, KeepsOfferingTheLoadWhenTheTargetIsTooSlow) {
  TrivialServer slow(absl::Milliseconds(200));
  LoadGeneratorOptions options;
  options.port = slow.port();
  options.rate = 50;
  options.duration = absl::Seconds(1);
  options.connections = 2;  // At most 10 answers a second.
  options.timeout = absl::Milliseconds(500);
  LoadGenerator load(options);
  ASSERT_TRUE(load.Start().ok());
  load.Wait();
  LoadSnapshot result = load.Snapshot();

  EXPECT_EQ(result.sent, 50);
  EXPECT_EQ(result.succeeded + result.Failed(), 50);
  EXPECT_GE(result.succeeded, 5);
  EXPECT_LE(result.succeeded, 16);
  EXPECT_EQ(result.unsent, result.timeouts);
  EXPECT_EQ(result.unsent, 50 - result.succeeded);
  EXPECT_GE(result.p50, absl::Milliseconds(200));  // Queueing counts, not just service time.
}

TEST(LoadGenerator, SortsFailuresByKind) {
  TrivialServer server;
  auto run = [&server](const std::string& path) {
    LoadGeneratorOptions options;
    options.port = server.port();
    options.path = path;
    options.rate = 20;
    options.duration = absl::Milliseconds(500);
    options.connections = 8;
    options.timeout = absl::Milliseconds(200);
    LoadGenerator load(options);
    EXPECT_TRUE(load.Start().ok());
    load.Wait();
    return load.Snapshot();
  };

  LoadSnapshot unavailable = run("/unavailable");
  EXPECT_EQ(unavailable.sent, 10);
  EXPECT_EQ(unavailable.http_5xx, 10);
  LoadSnapshot missing = run("/missing");
  EXPECT_EQ(missing.other_errors, 10);
  LoadSnapshot hang = run("/hang");
  EXPECT_EQ(hang.timeouts, 10);
  EXPECT_EQ(hang.unsent, 0);
  EXPECT_EQ(hang.succeeded, 0);
}

TEST(LoadGenerator, CountsRequestsDueBeforeStopThatNoConnectionCouldSend) {
  TrivialServer slow(absl::Milliseconds(300));
  LoadGeneratorOptions options;
  options.port = slow.port();
  options.rate = 100;
  options.connections = 1;
  LoadGenerator load(options);
  ASSERT_TRUE(load.Start().ok());
  absl::SleepFor(absl::Seconds(1));
  load.Stop();
  LoadSnapshot result = load.Snapshot();

  EXPECT_NEAR(result.sent, 100, 5);
  EXPECT_EQ(result.InFlight(), 0);
  EXPECT_LE(result.succeeded, 5);
  EXPECT_GE(result.unsent, 90);
  EXPECT_TRUE(load.Done());
}

TEST_F(LoadGeneratorAgainstWorkload, RejectsOptionsOutOfRange) {
  LoadGeneratorOptions options = Options(0, absl::Seconds(1));
  EXPECT_TRUE(absl::IsInvalidArgument(LoadGenerator(options).Start()));
  options = Options(10, absl::Seconds(1));
  options.connections = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(LoadGenerator(options).Start()));
  options = Options(10, absl::Seconds(1));
  options.port = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(LoadGenerator(options).Start()));

  LoadGenerator twice(Options(10, absl::Milliseconds(100)));
  ASSERT_TRUE(twice.Start().ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(twice.Start()));
}

TEST_F(LoadGeneratorAgainstWorkload, TheBinaryWritesAReport) {
  std::string report = dir_.File("report.json");
  absl::StatusOr<CommandResult> run =
      RunCommand({testing::BinaryDir() + "/shadowfleet-loadgen", "--target", workload_.address(),
                  "--rate", "100", "--duration", "1s", "--connections", "4", "--report", report},
                 CommandOptions{.timeout = absl::Seconds(20)});
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 0) << run->stderr_data;
  EXPECT_NE(run->stdout_data.find("100 requests"), std::string::npos) << run->stdout_data;

  absl::StatusOr<std::string> text = ReadFile(report);
  ASSERT_TRUE(text.ok());
  nlohmann::json json = nlohmann::json::parse(*text);
  EXPECT_EQ(json["sent"], 100);
  EXPECT_EQ(json["succeeded"], 100);
  EXPECT_EQ(json["failed"]["total"], 0);
  EXPECT_EQ(json["target"], workload_.address());
  EXPECT_EQ(json["perSecond"].size(), 1u);
  EXPECT_GT(json["latencyMs"]["p99"].get<double>(), 0);

  absl::StatusOr<CommandResult> bad =
      RunCommand({testing::BinaryDir() + "/shadowfleet-loadgen", "--target", "nowhere"});
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->exit_code, 2);
}

}  // namespace
}  // namespace shadowfleet

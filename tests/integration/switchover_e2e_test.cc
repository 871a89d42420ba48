// Switchovers end to end: real workload processes behind a real HAProxy driven through its
// runtime API, traffic from the project's load generator, and the daemon running the
// Automated Switchover Controller. A canary at 500 requests/s loses no request and HAProxy's
// weights follow the steps; a new replica serving errors is rolled back within one step; and
// a daemon killed (SIGKILL) in any phase resumes or rolls back without ever leaving the
// instance without traffic or retiring the old replica early.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "integration/harness.h"
#include "testing/real_servers.h"

#include "shadowfleet/common/http_client.h"
#include "shadowfleet/loadgen/load_generator.h"
#include "shadowfleet/router/haproxy_runtime_api.h"

namespace shadowfleet::testing {
namespace {

constexpr double kRate = 500;

std::string FleetYaml(const std::string& socket, const std::string& extra_policy = "") {
  return absl::StrCat(R"(apiVersion: shadowfleet.dev/v1alpha1
kind: Fleet
metadata: {name: e2e}
spec:
  groups:
    - name: app
      replicas: 1
      software: [{name: openssl, version: 3.0.15}]
      configuration: {message: hello}
      provider:
        name: process
        settings:
          command: ["{bin}/shadowfleet-workload", "--port", "{port}", "--config", "{config}"]
          stopGracePeriod: 2s
      healthCheck: {path: /healthz, interval: 200ms, timeout: 500ms, failureThreshold: 2}
      router:
        name: haproxy
        settings: {socket: ")",
                      socket, R"(", backend: be}
      switchover:
        initialWeight: 10
        stepWeight: 30
        stepInterval: 3s
        sampleInterval: 250ms
        minSamples: 6
        bakeTime: 3s
        progressDeadline: 2m
)",
                      extra_policy);
}

// Samples HAProxy's weights of every server of backend "be" every 20 ms on its own thread.
class WeightRecorder {
 public:
  explicit WeightRecorder(std::string socket) : api_(std::move(socket), absl::Seconds(1)) {
    thread_ = std::thread([this] {
      while (!stop_) {
        absl::StatusOr<std::string> state = api_.Send("show servers state be");
        if (state.ok()) {
          std::map<std::string, int> weights;
          for (absl::string_view line : absl::StrSplit(*state, '\n')) {
            std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
            // Columns: be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state
            // srv_uweight srv_iweight ...
            if (f.size() > 8 && f[1] == "be" && f[0] != "#") {
              bool maint = f[6] != "0";
              weights[f[3]] = maint ? 0 : std::atoi(f[7].c_str());
            }
          }
          weights["@ms"] = static_cast<int>(absl::ToUnixMillis(absl::Now()) % 1'000'000'000);
          std::lock_guard lock(mu_);
          samples_.push_back(std::move(weights));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  ~WeightRecorder() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  std::vector<std::map<std::string, int>> samples() {
    std::lock_guard lock(mu_);
    return samples_;
  }

 private:
  HaproxyRuntimeApi api_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::map<std::string, int>> samples_;
};

// When (ms, modulo 1e9 as the recorder keeps it) `name` first had weight `weight`, or -1.
int FirstAt(const std::vector<std::map<std::string, int>>& samples, const std::string& name,
            int weight) {
  for (const auto& s : samples) {
    auto it = s.find(name);
    if (it != s.end() && it->second == weight) {
      return s.at("@ms");
    }
  }
  return -1;
}

// Watches a process and remembers when (ms, modulo 1e9) it was first seen gone.
class DeathWatch {
 public:
  explicit DeathWatch(int pid) {
    thread_ = std::thread([this, pid] {
      while (!stop_ && gone_at_ < 0) {
        if (kill(pid, 0) != 0) {
          gone_at_ = static_cast<int>(absl::ToUnixMillis(absl::Now()) % 1'000'000'000);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  ~DeathWatch() {
    stop_ = true;
    thread_.join();
  }
  int gone_at() const { return gone_at_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> gone_at_{-1};
  std::thread thread_;
};

// The distinct weights `name` went through, in order.
std::vector<int> WeightsOf(const std::vector<std::map<std::string, int>>& samples,
                           const std::string& name) {
  std::vector<int> out;
  for (const auto& s : samples) {
    auto it = s.find(name);
    if (it != s.end() && it->first != "@ms" && (out.empty() || out.back() != it->second)) {
      out.push_back(it->second);
    }
  }
  return out;
}

// True if at every sample where either server existed, their weights summed above zero. Only
// samples from `first` on count (a switchover's own time).
bool NeverBothZero(const std::vector<std::map<std::string, int>>& samples, const std::string& a,
                   const std::string& b, size_t first = 0) {
  for (size_t i = first; i < samples.size(); ++i) {
    const auto& s = samples[i];
    auto wa = s.find(a);
    auto wb = s.find(b);
    if (wa == s.end() && wb == s.end()) {
      continue;
    }
    int total = (wa == s.end() ? 0 : wa->second) + (wb == s.end() ? 0 : wb->second);
    if (total <= 0) {
      std::string state;
      for (const auto& [name, weight] : s) {
        state += " " + name + "=" + std::to_string(weight);
      }
      ADD_FAILURE() << "no traffic for the pair " << a << "/" << b << ":" << state;
      return false;
    }
  }
  return true;
}

class SwitchoverEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    if (HaproxyBinary().empty()) {
      GTEST_SKIP() << "haproxy is not installed (scripts/install-deps installs it)";
    }
    std::string error;
    ASSERT_TRUE(haproxy_.Start(dir_.path(), &error)) << error;
  }

  void StartDaemon() {
    daemon_ = std::make_unique<DaemonProcess>(dir_.path() + "/daemon", "  workers: 4\n");
    ASSERT_TRUE(daemon_->Start()) << daemon_->log();
  }

  void ApplyFleet(const std::string& extra = "") {
    absl::StatusOr<nlohmann::json> applied = daemon_->client().Post(
        "/api/v1/apply", FleetYaml(haproxy_.unix_socket(), extra), "application/yaml");
    ASSERT_TRUE(applied.ok()) << applied.status();
    ASSERT_TRUE(WaitUntil(
        [this] {
          absl::StatusOr<nlohmann::json> r = daemon_->client().Get("/api/v1/instances/app-0");
          if (!r.ok() || (*r)["readiness"].value("ready", false) == false) {
            return false;
          }
          // Live serves through HAProxy.
          auto response = HttpRequest("GET", "127.0.0.1", haproxy_.frontend_port(), "/");
          return response.ok() && response->status == 200;
        },
        absl::Seconds(60)))
        << daemon_->log();
  }

  nlohmann::json Instance() { return GetJson(daemon_->client(), "/api/v1/instances/app-0"); }

  std::string StartSwitchover() {
    nlohmann::json started = PostJson(daemon_->client(), "/api/v1/switchovers",
                                      {{"instance", "app-0"}, {"reason", "end-to-end test"}});
    return started.value("id", "");
  }

  nlohmann::json Switchover(const std::string& id) {
    absl::StatusOr<nlohmann::json> s = daemon_->client().Get("/api/v1/switchovers/" + id);
    return s.ok() ? *s : nlohmann::json::object();
  }

  bool Ended(const std::string& id) {
    std::string phase = Switchover(id).value("phase", "");
    return phase == "Complete" || phase == "RolledBack";
  }

  LoadGeneratorOptions Load() {
    LoadGeneratorOptions options;
    options.port = haproxy_.frontend_port();
    options.rate = kRate;
    options.connections = 32;
    options.timeout = absl::Seconds(3);
    return options;
  }

  TempDir dir_;
  HaproxyProcess haproxy_;
  std::unique_ptr<DaemonProcess> daemon_;
};

TEST_F(SwitchoverEndToEnd, ACanaryAtFiveHundredRequestsASecondLosesNoRequest) {
  StartDaemon();
  ApplyFleet();
  nlohmann::json before = Instance();
  std::string old_replica = before["live"]["replica"];
  std::string new_replica = before["shadow"]["replica"];
  WeightRecorder weights(haproxy_.unix_socket());
  DeathWatch old_process(before["record"]["live"]["providerState"]["pid"].get<int>());
  LoadGenerator load(Load());
  ASSERT_TRUE(load.Start().ok());
  std::this_thread::sleep_for(std::chrono::seconds(2));

  std::string id = StartSwitchover();
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(WaitUntil([&] { return Ended(id); }, absl::Seconds(90))) << daemon_->log();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  load.Stop();
  weights.Stop();

  nlohmann::json sw = Switchover(id);
  EXPECT_EQ(sw["phase"], "Complete") << sw.dump(2);
  LoadSnapshot result = load.Snapshot();
  EXPECT_EQ(result.Failed(), 0) << result.ToJson().dump(2);
  EXPECT_GE(result.AchievedRate(), 0.95 * kRate) << result.ToJson().dump(2);
  // HAProxy's weights followed the canary steps (HAProxy weight = percent with fullWeight 100).
  std::vector<int> shadow_weights = WeightsOf(weights.samples(), new_replica);
  EXPECT_THAT(shadow_weights, ::testing::IsSupersetOf({10, 40, 70, 100}))
      << ::testing::PrintToString(shadow_weights);
  std::vector<int> order;
  for (int w : shadow_weights) {
    if (w == 10 || w == 40 || w == 70 || w == 100) {
      order.push_back(w);
    }
  }
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  EXPECT_TRUE(NeverBothZero(weights.samples(), old_replica, new_replica));
  EXPECT_EQ(Instance()["live"]["replica"], new_replica);
  // The old process ended only after the new replica had held 100 % through the bake (3 s).
  int full_at = FirstAt(weights.samples(), new_replica, 100);
  ASSERT_GE(full_at, 0);
  ASSERT_GE(old_process.gone_at(), 0) << "the old replica was retired";
  EXPECT_GE(old_process.gone_at() - full_at, 3000 - 100);
  RecordProperty("requests", static_cast<int>(result.sent));
  RecordProperty("failed", static_cast<int>(result.Failed()));
  std::printf("canary: %lld requests at %.0f/s, %lld failed, p99 %s; weights %s\n",
              static_cast<long long>(result.sent), result.AchievedRate(),
              static_cast<long long>(result.Failed()), absl::FormatDuration(result.p99).c_str(),
              ::testing::PrintToString(shadow_weights).c_str());
}

TEST_F(SwitchoverEndToEnd, ANewReplicaServingErrorsIsRolledBackWithinOneStep) {
  StartDaemon();
  ApplyFleet();
  nlohmann::json before = Instance();
  std::string old_replica = before["live"]["replica"];
  std::string new_replica = before["shadow"]["replica"];
  // The shadow fails half of its requests from the start.
  ASSERT_TRUE(HttpRequest("POST", "127.0.0.1", ParseHostPort(before["shadow"]["endpoint"])->second,
                          "/admin/degrade", R"({"mode": "errors", "rate": 0.5})",
                          "application/json")
                  .ok());
  WeightRecorder weights(haproxy_.unix_socket());
  LoadGenerator load(Load());
  ASSERT_TRUE(load.Start().ok());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  std::string id = StartSwitchover();
  ASSERT_TRUE(WaitUntil([&] { return Ended(id); }, absl::Seconds(60))) << daemon_->log();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  load.Stop();
  weights.Stop();

  nlohmann::json sw = Switchover(id);
  ASSERT_EQ(sw["phase"], "RolledBack") << sw.dump(2);
  ASSERT_EQ(sw["judgements"].size(), 1u);
  EXPECT_EQ(sw["judgements"][0]["weight"], 10);
  EXPECT_EQ(sw["judgements"][0]["verdict"], "fail");
  // Traffic was back on the old replica within one step interval of the judgement.
  int64_t judged_at = sw["judgements"][0]["at"];
  nlohmann::json events = GetJson(daemon_->client(), "/api/v1/events?subject=app-0&limit=200");
  int64_t rolled_back_at = 0;
  for (const nlohmann::json& e : events) {
    if (e["kind"] == "switchover.rolled_back") {
      absl::Time t;
      std::string err;
      ASSERT_TRUE(absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", e["time"].get<std::string>(), &t, &err));
      rolled_back_at = absl::ToUnixMillis(t);
    }
  }
  ASSERT_GT(rolled_back_at, 0);
  EXPECT_LE(rolled_back_at - judged_at, 3000) << "within one step interval (3 s)";
  EXPECT_EQ(WeightsOf(weights.samples(), new_replica).back(), 0);
  EXPECT_EQ(Instance()["live"]["replica"], old_replica);

  // The failed requests are reported and bounded by the canary weight: at most the 10 % share
  // for the step (3 s plus the time to judge and roll back), at the shadow's 50 % error rate,
  // with room for timing.
  LoadSnapshot result = load.Snapshot();
  double bound = 0.10 * kRate * (3.0 + 2.0) * 0.5 * 1.5;
  EXPECT_GT(result.Failed(), 0);
  EXPECT_LE(result.Failed(), bound) << result.ToJson().dump(2);
  EXPECT_EQ(result.http_5xx, result.Failed()) << "only the canary's own errors";
  std::printf(
      "rollback: %lld of %lld requests failed (bound %.0f), judged at 10 %%, back in "
      "%lld ms\n",
      static_cast<long long>(result.Failed()), static_cast<long long>(result.sent), bound,
      static_cast<long long>(rolled_back_at - judged_at));
}

// The daemon is killed in each phase of a switchover and restarted; the same instance is
// switched over again each round (the previous round's new replica is the next one's old).
TEST_F(SwitchoverEndToEnd, ADaemonKilledInAnyPhaseResumesOrRollsBackSafely) {
  StartDaemon();
  ApplyFleet();
  LoadGenerator load(Load());
  ASSERT_TRUE(load.Start().ok());
  WeightRecorder weights(haproxy_.unix_socket());
  struct Stop {
    std::string phase;
    int weight;
  };
  std::vector<Stop> stops = {{"Preparing", -1}, {"Stepping", 10}, {"Stepping", 40},
                             {"Stepping", 70},  {"Baking", 100},  {"Retiring", 100}};
  for (const Stop& stop : stops) {
    ASSERT_TRUE(WaitUntil([this] { return Instance()["readiness"].value("ready", false); },
                          absl::Seconds(60)));
    nlohmann::json before = Instance();
    std::string old_replica = before["live"]["replica"];
    std::string new_replica = before["shadow"]["replica"];
    size_t first_sample = weights.samples().size();
    DeathWatch old_process(before["record"]["live"]["providerState"]["pid"].get<int>());
    std::string id = StartSwitchover();
    bool reached = WaitUntil(
        [&] {
          nlohmann::json s = Switchover(id);
          return s.value("phase", "") == stop.phase &&
                 (stop.weight < 0 || s.value("weight", -1) == stop.weight);
        },
        absl::Seconds(60));
    if (!reached && stop.phase == "Retiring") {
      GTEST_LOG_(INFO) << "Retiring passed too quickly to catch; killed after it instead";
    } else {
      ASSERT_TRUE(reached) << stop.phase << " " << stop.weight << ": " << Switchover(id).dump(2);
    }
    daemon_->Signal(SIGKILL);
    ASSERT_TRUE(daemon_->WaitExit().has_value());
    ASSERT_TRUE(daemon_->Start()) << daemon_->log();
    ASSERT_TRUE(WaitUntil([&] { return Ended(id); }, absl::Seconds(90)))
        << stop.phase << ": " << Switchover(id).dump(2);
    nlohmann::json sw = Switchover(id);
    EXPECT_THAT(sw["phase"].get<std::string>(), ::testing::AnyOf("Complete", "RolledBack"));
    EXPECT_TRUE(NeverBothZero(weights.samples(), old_replica, new_replica, first_sample))
        << "killed in " << stop.phase;
    // The old replica's process ended only after the new one had held 100 % through the
    // bake (3 s); after a rollback it still runs.
    std::vector<std::map<std::string, int>> all = weights.samples();
    std::vector<std::map<std::string, int>> round(all.begin() + first_sample, all.end());
    if (sw["phase"] == "Complete") {
      EXPECT_EQ(Instance()["live"]["replica"], new_replica);
      ASSERT_TRUE(WaitUntil([&] { return old_process.gone_at() >= 0; }, absl::Seconds(10)));
      int full_at = FirstAt(round, new_replica, 100);
      ASSERT_GE(full_at, 0);
      EXPECT_GE(old_process.gone_at() - full_at, 3000 - 100) << "killed in " << stop.phase;
    } else {
      EXPECT_LT(old_process.gone_at(), 0) << "a rolled-back switchover keeps the old replica";
    }
  }
  load.Stop();
  weights.Stop();
  LoadSnapshot result = load.Snapshot();
  EXPECT_EQ(result.Failed(), 0) << "the fleet served throughout six daemon crashes: "
                                << result.ToJson().dump(2);
  std::printf("crash test: %lld requests, %lld failed across %zu kills\n",
              static_cast<long long>(result.sent), static_cast<long long>(result.Failed()),
              stops.size());
}

}  // namespace
}  // namespace shadowfleet::testing

#include "shadowfleet/demo/demo.h"

#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "shadowfleet/cli/api_client.h"
#include "shadowfleet/common/files.h"
#include "shadowfleet/common/http_client.h"
#include "shadowfleet/common/logging.h"
#include "shadowfleet/daemon/daemon.h"
#include "shadowfleet/demo/local_haproxy.h"
#include "shadowfleet/demo/scenario.h"
#include "shadowfleet/loadgen/load_generator.h"
#include "shadowfleet/shadow/readiness.h"

namespace shadowfleet {
namespace {

constexpr char kBackend[] = "demo";

std::string FleetYaml(const Scenario& s, const std::string& socket, bool act) {
  return absl::StrFormat(R"(apiVersion: shadowfleet.dev/v1alpha1
kind: Fleet
metadata:
  name: demo
spec:
  groups:
    - name: web
      replicas: %d
      instanceType: local.small
      os: {name: debian, version: "12.8"}
      software:
        - {name: openssl, version: 3.0.15-1~deb12u1}
        - {name: nginx, version: 1.22.1-9}
      configuration:
        message: hello
        memoryLimitMb: %d
        diskQuotaMb: %d
      volumes:
        - name: data
          path: data
          sync: {method: copy, interval: 2s, maxLag: 20s}
      provider:
        name: process
        settings:
          command: ["{bin}/shadowfleet-workload", "--port", "{port}", "--config", "{config}",
                    "--data", "{dir}/data"]
          onConfigChange: reload
      healthCheck: {path: /healthz, interval: 500ms, timeout: 1500ms, failureThreshold: 3}
      live: {replaceLostAfter: 20s}
      telemetry:
        scrape: [{path: /metrics, interval: 1s, timeout: 500ms}]
      router:
        name: haproxy
        settings: {socket: "%s", backend: %s}
      switchover:
        initialWeight: 10
        stepWeight: 30
        stepInterval: 3s
        sampleInterval: 250ms
        minSamples: 6
        bakeTime: 4s
        progressDeadline: 2m
        maxConcurrent: 2
        minHealthyShare: 0.5
        riskThreshold: 0.7
        automatic: %s
)",
                         s.instances, s.memory_limit_mb, s.disk_quota_mb, socket, kBackend,
                         act ? "true" : "false");
}

// One degradation as the runner injected it, and what became of it.
struct Injection {
  DegradationSpec spec;
  double due = 0;  // Seconds after the start of the run.
  bool done = false;
  std::string instance;
  std::string replica;
  double at = 0;                    // When it was injected.
  double expected_failure = 0;      // When the replica would fail, by the workload's own rules.
  std::string outcome = "pending";  // preempted, missed, pending; for sudden crashes: crashed.
  double resolved_at = -1;          // Preemption (traffic moved off) or failure.
  double recovered_at = -1;         // Sudden crashes: the shadow holding the traffic.
};

class Narrator {
 public:
  Narrator(absl::Time start, bool quiet) : start_(start), quiet_(quiet) {}
  void Say(const std::string& tag, const std::string& text) const {
    if (quiet_) {
      return;
    }
    int s = static_cast<int>(absl::ToDoubleSeconds(absl::Now() - start_));
    std::printf("%02d:%02d  %-8s %s\n", s / 60, s % 60, tag.c_str(), text.c_str());
    std::fflush(stdout);
  }
  double Seconds(absl::Time t) const { return absl::ToDoubleSeconds(t - start_); }

 private:
  absl::Time start_;
  bool quiet_;
};

// The median, or NaN for no values (null in the report, "-" in the summary).
double Median(std::vector<double> v) {
  if (v.empty()) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string SecondsOrDash(double value, int decimals) {
  return std::isnan(value) ? "-" : absl::StrFormat("%.*f s", decimals, value);
}

nlohmann::json OrNull(double value) {
  return std::isnan(value) ? nlohmann::json(nullptr) : nlohmann::json(value);
}

nlohmann::json ParseDetails(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  return j.is_discarded() ? nlohmann::json::object() : j;
}

// Tells the narrator what an event means for someone watching the fleet.
void Narrate(const EventRecord& e, const Narrator& say) {
  nlohmann::json d = ParseDetails(e.details);
  const std::string& k = e.kind;
  if (k == "switchover.requested") {
    say.Say(e.actor == "risk-engine" ? "predict" : "switch", e.subject + ": " + e.message);
  } else if (k == "switchover.stepping" || k == "switchover.promoted" ||
             k == "switchover.completed" || k == "switchover.failover") {
    say.Say("switch", e.subject + ": " + e.message.substr(e.message.find(':') + 2));
  } else if (k == "switchover.judgement") {
    say.Say("judge", e.subject + ": " + e.message.substr(e.message.find(':') + 2));
  } else if (k == "switchover.rolling_back" || k == "switchover.rolled_back") {
    say.Say("ROLLBACK", e.subject + ": " + e.message.substr(e.message.find(':') + 2));
  } else if (k == "live.lost" || k == "live.unhealthy") {
    say.Say("FAILURE", absl::StrCat(e.subject, ": live ", d.value("replica", ""), " ", k.substr(5),
                                    ": ", e.message));
  } else if (k == "live.replaced") {
    say.Say("replace", e.subject + ": " + e.message);
  } else if (k == "risk.unprotected" || k == "risk.held_back") {
    say.Say("risk", e.subject + ": " + e.message);
  } else if (k == "shadow.ready" && e.message.find("version 1") == std::string::npos) {
    say.Say("shadow", e.subject + ": " + e.message);
  }
}

}  // namespace

int RunDemo(const DemoOptions& options) {
  absl::StatusOr<Scenario> loaded = options.scenario_file.empty()
                                        ? absl::StatusOr<Scenario>(BuiltInScenario())
                                        : LoadScenario(options.scenario_file);
  if (!loaded.ok()) {
    std::cerr << "demo: " << loaded.status().message() << "\n";
    return 2;
  }
  Scenario scenario = *loaded;
  if (options.duration_seconds > 0) {
    scenario.duration = absl::Seconds(options.duration_seconds);
  }
  bool act = options.mode == "act";
  std::string state_dir = options.state_dir;
  if (state_dir.empty()) {
    std::string pattern = "/tmp/shadowfleet-demo-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      std::cerr << "demo: cannot create a temporary directory\n";
      return 1;
    }
    state_dir = pattern;
  }
  std::filesystem::create_directories(state_dir);
  SetLogFile(state_dir + "/daemon.log");

  LocalHaproxy haproxy;
  if (absl::Status s = haproxy.Start(state_dir + "/haproxy", kBackend); !s.ok()) {
    std::cerr << "demo: " << s.message() << "\n";
    return 1;
  }
  DaemonConfig config;
  config.listen = options.listen;
  config.state_dir = state_dir;
  config.sqlite_path = state_dir + "/state.db";
  config.sqlite_synchronous_full = false;
  config.reconcile_interval = absl::Milliseconds(200);
  config.observe_interval = absl::Seconds(5);
  config.risk_horizon = absl::Minutes(5);
  config.risk_interval = absl::Seconds(1);
  config.example_interval = absl::Seconds(10);
  config.retrain_check_interval = absl::Seconds(60);
  absl::StatusOr<std::unique_ptr<Daemon>> created = Daemon::Create(config);
  if (!created.ok()) {
    std::cerr << "demo: " << created.status().message() << "\n";
    return 1;
  }
  std::unique_ptr<Daemon> daemon = *std::move(created);
  if (absl::Status s = daemon->Start(); !s.ok()) {
    std::cerr << "demo: " << s.message() << "\n";
    return 1;
  }
  ApiClient api = *ApiClient::Connect(daemon->address());
  std::printf(
      "shadowfleet demo (%s mode, scenario %s, seed %llu): daemon at http://%s, HAProxy on "
      ":%d\n  state and logs in %s\n  try: shadowfleet -s %s risk\n\n",
      options.mode.c_str(), scenario.name.c_str(), static_cast<unsigned long long>(options.seed),
      daemon->address().c_str(), haproxy.frontend_port(), state_dir.c_str(),
      daemon->address().c_str());

  // The fleet comes up with its shadows, and gets a patch before the load starts.
  Narrator setup(absl::Now(), options.quiet);
  setup.Say("fleet", absl::StrCat("applying ", scenario.instances,
                                  " instances of the demo service behind HAProxy"));
  if (auto applied = api.Post("/api/v1/apply?file=demo.yaml&author=demo",
                              FleetYaml(scenario, haproxy.socket(), act), "application/yaml");
      !applied.ok()) {
    std::cerr << "demo: " << applied.status().message() << "\n";
    return 1;
  }
  auto all_ready = [&](int64_t version) {
    ReadinessReport r = ComputeFleetReadiness(daemon->state(), absl::Now(), nullptr);
    if (r.fleet.ready_shadows != scenario.instances) {
      return false;
    }
    for (const Readiness& i : r.instances) {
      if (i.shadow_version < version) {
        return false;
      }
    }
    return HttpRequest("GET", "127.0.0.1", haproxy.frontend_port(), "/").ok();
  };
  auto wait = [](const std::function<bool()>& done, absl::Duration limit) {
    absl::Time deadline = absl::Now() + limit;
    while (!done() && absl::Now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return done();
  };
  if (!wait([&] { return all_ready(1); }, absl::Seconds(90))) {
    std::cerr << "demo: the fleet did not become ready; see " << state_dir << "/daemon.log\n";
    return 1;
  }
  setup.Say("fleet", absl::StrCat(scenario.instances, " live instances, each with a ready shadow"));
  nlohmann::json patch = {{"group", "web"},
                          {"set", {{"/software/openssl", "3.0.16-1~deb12u1"}}},
                          {"author", "demo"},
                          {"reason", "security update (DSA-5xxx)"}};
  (void)api.Post("/api/v1/changes", patch.dump(), "application/json");
  setup.Say("patch", "openssl 3.0.15 -> 3.0.16 recorded on every live instance");
  wait([&] { return all_ready(2); }, absl::Seconds(60));
  setup.Say("patch", "every shadow is at version 2 with its live instance");

  // The run: load through HAProxy, degradations injected at seeded random times.
  std::mt19937_64 rng(options.seed);
  std::vector<Injection> injections;
  for (const DegradationSpec& spec : scenario.degradations) {
    for (int i = 0; i < spec.count; ++i) {
      std::uniform_real_distribution<double> when(absl::ToDoubleSeconds(spec.window_start),
                                                  absl::ToDoubleSeconds(spec.window_end));
      Injection injection;
      injection.spec = spec;
      injection.due = when(rng);
      injections.push_back(injection);
    }
  }
  std::sort(injections.begin(), injections.end(),
            [](const Injection& a, const Injection& b) { return a.due < b.due; });

  LoadGeneratorOptions load_options;
  load_options.port = haproxy.frontend_port();
  load_options.rate = scenario.request_rate;
  load_options.connections = 32;
  load_options.timeout = absl::Seconds(2);
  LoadGenerator load(load_options);
  if (absl::Status s = load.Start(); !s.ok()) {
    std::cerr << "demo: " << s.message() << "\n";
    return 1;
  }
  absl::Time start = absl::Now();
  Narrator say(start, options.quiet);
  say.Say("load", absl::StrFormat("%.0f requests/s through HAProxy for %s; %zu degradations to "
                                  "inject",
                                  scenario.request_rate, absl::FormatDuration(scenario.duration),
                                  injections.size()));
  int64_t last_event = 0;
  if (auto newest = daemon->store().ListEvents({"", "", 0, 1}); newest.ok() && !newest->empty()) {
    last_event = newest->back().id;
  }
  std::vector<EventRecord> history;  // Every event of the run, for the report.
  // Per instance, the recommendation and risk score last told.
  std::map<std::string, std::pair<std::string, double>> told_risk;
  absl::Time next_status = start + absl::Seconds(15);

  while (absl::Now() - start < scenario.duration) {
    double t = absl::ToDoubleSeconds(absl::Now() - start);
    for (Injection& injection : injections) {
      if (injection.done || injection.due > t) {
        continue;
      }
      // A live instance that is healthy, not degrading already and not being switched over.
      std::vector<std::string> candidates;
      for (const std::string& id : daemon->state().InstanceIds()) {
        Cached<InstanceRecord> i = daemon->state().Instance(id);
        bool busy = std::any_of(injections.begin(), injections.end(), [&](const Injection& x) {
          return x.done && x.instance == id && x.outcome == "pending";
        });
        if (i && i->live && i->live_phase == LivePhase::kRunning && i->active_switchover.empty() &&
            !busy) {
          candidates.push_back(id);
        }
      }
      if (candidates.empty()) {
        continue;  // Try again on the next tick.
      }
      std::string id = candidates[rng() % candidates.size()];
      Cached<InstanceRecord> instance = daemon->state().Instance(id);
      absl::StatusOr<std::pair<std::string, int>> endpoint =
          ParseHostPort(instance->live->endpoint);
      nlohmann::json body = {{"mode", injection.spec.mode},
                             {"rate", injection.spec.rate},
                             {"seconds", injection.spec.seconds},
                             {"ceilingMs", injection.spec.ceiling_ms}};
      if (!endpoint.ok() || !HttpRequest("POST", endpoint->first, endpoint->second,
                                         "/admin/degrade", body.dump(), "application/json")
                                 .ok()) {
        continue;
      }
      injection.done = true;
      injection.instance = id;
      injection.replica = instance->live->id;
      injection.at = t;
      injection.expected_failure = t + ExpectedFailureSeconds(injection.spec, scenario);
      say.Say("inject",
              absl::StrFormat("%s on %s (%s)%s", injection.spec.mode, id, injection.replica,
                              GivesWarning(injection.spec)
                                  ? absl::StrFormat(": would fail in about %.0f s",
                                                    injection.expected_failure - t)
                                  : ": crashes with no warning"));
    }

    absl::StatusOr<std::vector<EventRecord>> events =
        daemon->store().ListEvents({"", "", last_event, 500});
    if (events.ok()) {
      for (const EventRecord& e : *events) {
        last_event = std::max(last_event, e.id);
        history.push_back(e);
        Narrate(e, say);
      }
    }
    for (const RiskView& view : daemon->risk().All()) {
      // A new recommendation is told when the score moved by a tenth since last told, so that
      // a score hovering at a boundary does not flood the terminal.
      std::string now = RecommendationName(view.recommendation);
      double p = view.assessment.probability;
      auto told = told_risk.find(view.instance_id);
      if (told == told_risk.end()) {
        told_risk[view.instance_id] = {now, p};
      } else if (told->second.first != now && std::fabs(p - told->second.second) >= 0.1) {
        told->second = {now, p};
        say.Say("risk", absl::StrFormat("%s %.2f (%s)%s", view.instance_id, p, now,
                                        view.assessment.top_factors.empty()
                                            ? ""
                                            : ": " + view.assessment.top_factors[0].description));
      }
    }
    if (absl::Now() >= next_status) {
      next_status += absl::Seconds(15);
      LoadSnapshot snapshot = load.Snapshot();
      ReadinessReport r = ComputeFleetReadiness(daemon->state(), absl::Now(), nullptr);
      say.Say("status",
              absl::StrFormat("%lld requests, %lld failed; %d/%d shadows ready; %zu "
                              "switchovers active",
                              static_cast<long long>(snapshot.sent),
                              static_cast<long long>(snapshot.Failed()), r.fleet.ready_shadows,
                              r.fleet.live_instances, daemon->switchovers().List(true).size()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  load.Stop();
  LoadSnapshot result = load.Snapshot();
  if (auto events = daemon->store().ListEvents({"", "", last_event, 10000}); events.ok()) {
    history.insert(history.end(), events->begin(), events->end());
  }

  // What became of each degradation, from the run's events.
  std::vector<SwitchoverRecord> switchovers = daemon->switchovers().List(/*active_only=*/false);
  auto switchover = [&](const std::string& id) -> const SwitchoverRecord* {
    for (const SwitchoverRecord& s : switchovers) {
      if (s.id == id) {
        return &s;
      }
    }
    return nullptr;
  };
  auto at = [&](const EventRecord& e) { return say.Seconds(absl::FromUnixMillis(e.time_ms)); };
  for (Injection& injection : injections) {
    if (!injection.done) {
      continue;
    }
    bool sudden = !GivesWarning(injection.spec);
    for (const EventRecord& e : history) {
      if (e.subject != injection.instance || at(e) < injection.at) {
        continue;
      }
      nlohmann::json d = ParseDetails(e.details);
      // Traffic leaves the replica when a switchover of it is promoted (canary) or fails over.
      if (e.kind == "switchover.promoted" || e.kind == "switchover.failover") {
        const SwitchoverRecord* sw = switchover(d.value("switchover", ""));
        if (sw == nullptr || !sw->old_replica || sw->old_replica->id != injection.replica) {
          continue;
        }
        if (sw->trigger == SwitchoverTrigger::kFailover) {
          if (injection.outcome == "pending") {
            injection.outcome = sudden ? "crashed" : "missed";
            injection.resolved_at = at(e);
          }
          injection.recovered_at = at(e);
          break;
        }
        if (injection.outcome == "pending") {
          injection.outcome = sudden ? "crashed" : "preempted";
          injection.resolved_at = at(e);
        }
        break;
      }
      if ((e.kind == "live.lost" || e.kind == "live.unhealthy") &&
          d.value("replica", "") == injection.replica && injection.outcome == "pending") {
        injection.outcome = sudden ? "crashed" : "missed";
        injection.resolved_at = at(e);
        if (!act) {
          break;
        }
      }
      if (e.kind == "live.replaced" && injection.outcome != "pending" &&
          injection.recovered_at < 0) {
        injection.recovered_at = at(e);
      }
    }
  }

  int with_warning = 0, preempted = 0, missed = 0, sudden = 0;
  std::vector<double> lead_times, recovery_times;
  int64_t failed_in_crashes = 0;
  for (const Injection& i : injections) {
    if (!i.done) {
      continue;
    }
    if (!GivesWarning(i.spec)) {
      sudden++;
      if (i.recovered_at >= 0) {
        double crashed_at = i.at + i.spec.seconds;
        recovery_times.push_back(i.recovered_at - crashed_at);
        // Requests due from the second of the crash to the second after the shadow took over.
        for (auto s = static_cast<size_t>(crashed_at);
             s <= static_cast<size_t>(i.recovered_at) + 1 && s < result.per_second.size(); ++s) {
          failed_in_crashes += result.per_second[s].failed;
        }
      }
      continue;
    }
    with_warning++;
    if (i.outcome == "preempted") {
      preempted++;
      lead_times.push_back(i.expected_failure - i.resolved_at);
    } else if (i.outcome == "missed") {
      missed++;
    }
  }
  int completed = 0, rolled_back = 0, false_switchovers = 0;
  for (const SwitchoverRecord& sw : switchovers) {
    completed += sw.phase == SwitchoverPhase::kComplete;
    rolled_back += sw.phase == SwitchoverPhase::kRolledBack;
    if (sw.trigger != SwitchoverTrigger::kRisk || !sw.old_replica) {
      continue;
    }
    bool degraded = std::any_of(injections.begin(), injections.end(), [&](const Injection& i) {
      return i.done && i.replica == sw.old_replica->id;
    });
    false_switchovers += !degraded;
  }
  double instance_hours = scenario.instances * absl::ToDoubleHours(absl::Now() - start);
  nlohmann::json report = {
      {"mode", options.mode},
      {"scenario", scenario.name},
      {"seed", options.seed},
      {"duration_s", absl::ToDoubleSeconds(absl::Now() - start)},
      {"degradations_injected", with_warning + sudden},
      {"degradations_with_warning", with_warning},
      {"preempted", preempted},
      {"missed", missed},
      {"sudden_crashes", sudden},
      {"false_switchovers", false_switchovers},
      {"instance_hours", instance_hours},
      {"requests_total", result.sent},
      {"requests_failed", result.Failed()},
      {"median_lead_time_s", OrNull(Median(lead_times))},
      {"recovery_time_s", OrNull(Median(recovery_times))},
      {"requests_failed_in_sudden_crashes", failed_in_crashes},
      {"switchovers_completed", completed},
      {"switchovers_rolled_back", rolled_back},
      {"model", daemon->models().Current()->version()},
  };
  nlohmann::json details = nlohmann::json::array();
  for (const Injection& i : injections) {
    details.push_back({{"mode", i.spec.mode},
                       {"instance", i.instance},
                       {"replica", i.replica},
                       {"injected_at_s", i.at},
                       {"expected_failure_s", i.expected_failure},
                       {"outcome", i.done ? i.outcome : "not injected"},
                       {"resolved_at_s", i.resolved_at},
                       {"recovered_at_s", i.recovered_at}});
  }
  report["injections"] = details;

  std::printf(
      "\nsummary (%s mode): %d degradations injected (%d with warning signs, %d sudden "
      "crashes)\n"
      "  preempted %d, missed %d; median lead time %s; sudden-crash recovery %s\n"
      "  switchovers completed %d, rolled back %d, false %d (%.2f per 100 instance-hours)\n"
      "  requests %lld, failed %lld (%.3f %%)\n",
      options.mode.c_str(), with_warning + sudden, with_warning, sudden, preempted, missed,
      SecondsOrDash(Median(lead_times), 0).c_str(),
      SecondsOrDash(Median(recovery_times), 1).c_str(), completed, rolled_back, false_switchovers,
      instance_hours > 0 ? 100 * false_switchovers / instance_hours : 0.0,
      static_cast<long long>(result.sent), static_cast<long long>(result.Failed()),
      result.sent > 0 ? 100.0 * result.Failed() / result.sent : 0.0);
  if (!options.report_file.empty()) {
    if (absl::Status s = WriteFileAtomically(options.report_file, report.dump(2) + "\n"); !s.ok()) {
      std::cerr << "demo: " << s.message() << "\n";
    } else {
      std::printf("  report written to %s\n", options.report_file.c_str());
    }
  }

  if (options.keep_running) {
    std::printf("\nThe fleet keeps running; the API is at http://%s. Ctrl-C tears it down.\n",
                daemon->address().c_str());
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    int received = 0;
    sigwait(&signals, &received);
  }
  (void)api.Delete("/api/v1/fleets/demo?author=demo");
  wait([&] { return daemon->state().instance_count() == 0; }, absl::Seconds(30));
  daemon->Stop();
  haproxy.Stop();
  return 0;
}

}  // namespace shadowfleet

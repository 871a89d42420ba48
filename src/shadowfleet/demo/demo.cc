#include "shadowfleet/demo/demo.h"

#include <signal.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "shadowfleet/cli/api_client.h"
#include "shadowfleet/common/files.h"
#include "shadowfleet/common/logging.h"
#include "shadowfleet/daemon/daemon.h"

namespace shadowfleet {
namespace {

std::string DemoFleet(int instances) {
  return absl::StrCat(R"(apiVersion: shadowfleet.dev/v1alpha1
kind: Fleet
metadata:
  name: demo
spec:
  groups:
    - name: web
      replicas: )",
                      instances, R"(
      instanceType: local.small
      os: {name: debian, version: "12.8"}
      software:
        - {name: openssl, version: 3.0.15-1~deb12u1}
        - {name: nginx, version: 1.22.1-9}
      configuration:
        message: hello
        workers: 4
      volumes:
        - name: data
          path: data
          sync: {method: copy, interval: 1s, maxLag: 10s}
      provider:
        name: process
        settings:
          command: ["{bin}/shadowfleet-workload", "--port", "{port}", "--config", "{config}",
                    "--data", "{dir}/data"]
      healthCheck: {path: /healthz, interval: 500ms, timeout: 500ms, failureThreshold: 2}
      shadowing: {apply: immediate, replaceUnhealthyAfter: 5s}
)");
}

void Say(const std::string& line) {
  std::cout << absl::FormatTime("%H:%M:%S", absl::Now(), absl::LocalTimeZone()) << "  " << line
            << std::endl;
}

std::string ReadinessLine(const nlohmann::json& report) {
  const nlohmann::json& f = report["fleet"];
  std::map<std::string, int> reasons = f.value("byReason", std::map<std::string, int>());
  std::string by;
  for (const auto& [reason, count] : reasons) {
    absl::StrAppend(&by, by.empty() ? "" : ", ", count, " ", reason);
  }
  return absl::StrFormat("readiness %d/%d (%3.0f%%)  worst lag %d versions / %.1fs  [%s]",
                         f.value("readyShadows", 0), f.value("liveInstances", 0),
                         100 * f.value("readyRatio", 0.0), f.value("maxVersionsBehind", 0),
                         f.value("maxSecondsBehind", 0.0), by);
}

// Prints readiness when the shadows' states change (and once a second while they do not)
// until `done` holds or `timeout` passes.
bool Watch(const ApiClient& api, const std::function<bool(const nlohmann::json&)>& done,
           absl::Duration timeout) {
  std::string last_states;
  absl::Time last_print = absl::InfinitePast();
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    absl::StatusOr<nlohmann::json> report = api.Get("/api/v1/readiness");
    if (report.ok()) {
      std::string states = (*report)["fleet"]["byReason"].dump();
      bool finished = done(*report);
      if (states != last_states || absl::Now() - last_print >= absl::Seconds(1) || finished) {
        Say(ReadinessLine(*report));
        last_states = states;
        last_print = absl::Now();
      }
      if (finished) {
        return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Say("gave up waiting after " + absl::FormatDuration(timeout));
  return false;
}

bool AllReadyAt(const nlohmann::json& report, int instances, int64_t version) {
  if (report["fleet"].value("readyShadows", 0) != instances) {
    return false;
  }
  for (const nlohmann::json& r : report["instances"]) {
    if (r.value("shadowVersion", 0) < version) {
      return false;
    }
  }
  return true;
}

void PrintInstances(const ApiClient& api) {
  absl::StatusOr<nlohmann::json> instances = api.Get("/api/v1/instances");
  if (!instances.ok()) {
    return;
  }
  std::cout << absl::StrFormat("    %-8s %-24s %-24s %-6s %-6s %s\n", "INSTANCE", "LIVE", "SHADOW",
                               "LIVE-V", "SHAD-V", "READY");
  for (const nlohmann::json& i : *instances) {
    auto where = [](const nlohmann::json& r) {
      return r.is_null()
                 ? std::string("-")
                 : absl::StrCat(r.value("replica", ""), "@", r.value("endpoint", "").substr(10));
    };
    std::cout << absl::StrFormat("    %-8s %-24s %-24s %-6d %-6d %s\n", i.value("id", ""),
                                 where(i["live"]), where(i["shadow"]), i.value("liveVersion", 0),
                                 i.value("shadowVersion", 0),
                                 i["readiness"].value("ready", false) ? "yes" : "no");
  }
}

}  // namespace

int RunDemo(const DemoOptions& options) {
  std::string state_dir = options.state_dir;
  if (state_dir.empty()) {
    std::string pattern = "/tmp/shadowfleet-demo-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      std::cerr << "demo: cannot create a temporary directory\n";
      return 1;
    }
    state_dir = pattern;
  }
  SetLogFile(state_dir + "/daemon.log");
  DaemonConfig config;
  config.listen = options.listen;
  config.state_dir = state_dir;
  config.sqlite_path = state_dir + "/state.db";
  config.reconcile_interval = absl::Milliseconds(200);
  config.observe_interval = absl::Seconds(1);
  absl::StatusOr<std::unique_ptr<Daemon>> daemon = Daemon::Create(config);
  if (!daemon.ok()) {
    std::cerr << "demo: " << daemon.status().message() << "\n";
    return 1;
  }
  if (absl::Status started = (*daemon)->Start(); !started.ok()) {
    std::cerr << "demo: " << started.message() << "\n";
    return 1;
  }
  ApiClient api = *ApiClient::Connect((*daemon)->address());
  std::cout << "shadowfleet demo: daemon at http://" << (*daemon)->address()
            << " (SQLite state and log in " << state_dir << ")\n"
            << "  try: shadowfleet -s " << (*daemon)->address() << " get instances\n\n";

  int n = options.instances;
  Say(absl::StrCat("1. applying a fleet of ", n,
                   " instances of the demo service (process provider)"));
  if (auto applied =
          api.Post("/api/v1/apply?file=demo.yaml&author=demo", DemoFleet(n), "application/yaml");
      !applied.ok()) {
    std::cerr << "demo: " << applied.status().message() << "\n";
    return 1;
  }
  bool ok = Watch(
      api, [n](const nlohmann::json& r) { return AllReadyAt(r, n, 1); }, absl::Seconds(60));
  PrintInstances(api);

  Say("2. patching live: openssl 3.0.15 -> 3.0.16 and workers 4 -> 8 on every instance");
  nlohmann::json change = {
      {"group", "web"},
      {"set", {{"/software/openssl", "3.0.16-1~deb12u1"}, {"/config/workers", 8}}},
      {"author", "demo"},
      {"reason", "security update (DSA-5xxx)"}};
  (void)api.Post("/api/v1/changes", change.dump(), "application/json");
  ok = ok &&
       Watch(
           api, [n](const nlohmann::json& r) { return AllReadyAt(r, n, 2); }, absl::Seconds(60));
  if (auto diff = api.Get("/api/v1/instances/web-0/diff?from=1&to=2"); diff.ok()) {
    Say("   web-0 version 1 -> 2: " + (*diff)["patch"].dump());
  }

  Say("3. another tool edits web-1's live configuration directly (message: hello -> hola)");
  if (auto web1 = api.Get("/api/v1/instances/web-1"); web1.ok()) {
    std::string path =
        absl::StrCat(state_dir, "/replicas/", (*web1)["live"].value("replica", ""), "/config.json");
    if (auto text = ReadFile(path); text.ok()) {
      nlohmann::json doc = nlohmann::json::parse(*text, nullptr, false);
      doc["config"]["message"] = "hola";
      (void)WriteFileAtomically(path, doc.dump(2));
    }
  }
  ok = ok && Watch(
                 api,
                 [n](const nlohmann::json& r) {
                   for (const nlohmann::json& i : r["instances"]) {
                     if (i.value("instance", "") == "web-1" && i.value("shadowVersion", 0) < 3) {
                       return false;
                     }
                   }
                   return r["fleet"].value("readyShadows", 0) == n;
                 },
                 absl::Seconds(30));
  if (auto history = api.Get("/api/v1/instances/web-1/versions"); history.ok()) {
    for (const nlohmann::json& v : *history) {
      Say(absl::StrFormat("   web-1 version %d  %-8s  by %-10s  %s", v.value("version", 0),
                          v.value("source", ""), v.value("author", ""), v.value("reason", "")));
    }
  }

  Say("4. a shadow dies (SIGKILL of web-2's shadow process)");
  if (auto web2 = api.Get("/api/v1/instances/web-2"); web2.ok()) {
    int pid = (*web2)["shadowRecord"]["replica"]["providerState"].value("pid", 0);
    if (pid > 0) {
      kill(pid, SIGKILL);
    }
    std::string old_shadow = (*web2)["shadow"].value("replica", "");
    ok = ok && Watch(
                   api,
                   [&](const nlohmann::json& r) {
                     absl::StatusOr<nlohmann::json> now = api.Get("/api/v1/instances/web-2");
                     return now.ok() && (*now)["shadow"].is_object() &&
                            (*now)["shadow"].value("replica", "") != old_shadow &&
                            r["fleet"].value("readyShadows", 0) == n;
                   },
                   absl::Seconds(30));
  }
  PrintInstances(api);
  if (auto report = api.Get("/api/v1/readiness"); report.ok()) {
    Say("final " + ReadinessLine(*report));
  }

  if (options.keep_running) {
    std::cout << "\nThe fleet keeps running; the API is at http://" << (*daemon)->address()
              << ". Press Ctrl-C to tear it down.\n";
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    int received = 0;
    sigwait(&signals, &received);
  }
  Say("tearing the fleet down");
  (void)api.Delete("/api/v1/fleets/demo?author=demo");
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while ((*daemon)->state().instance_count() > 0 && absl::Now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  (*daemon)->Stop();
  std::cout << (ok ? "demo complete\n" : "demo finished with a step that did not converge\n");
  return ok ? 0 : 1;
}

}  // namespace shadowfleet

#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "shadowfleet/cli/cli_support.h"
#include "shadowfleet/cli/table.h"

namespace shadowfleet {
namespace {

void PrintList(const nlohmann::json& switchovers) {
  Table table({"SWITCHOVER", "INSTANCE", "TRIGGER", "STRATEGY", "PHASE", "STEP", "WEIGHT", "JUDGED",
               "REQUESTED BY"});
  for (const nlohmann::json& s : switchovers) {
    table.AddRow({Text(s["id"]), Text(s["instance"]), Text(s["trigger"]), Text(s["strategy"]),
                  Text(s["phase"]), Text(s["step"]), absl::StrCat(s.value("weight", 0), "%"),
                  Text(s["judged"]), Text(s["requestedBy"])});
  }
  table.Print(std::cout);
}

std::string Replica(const nlohmann::json& r) {
  return r.is_null() ? "-" : absl::StrCat(Text(r["id"]), " (", Text(r["endpoint"]), ")");
}

void PrintStatus(const nlohmann::json& s) {
  std::cout << "Switchover: " << Text(s["id"]) << "\n"
            << "Instance:   " << Text(s["instance"]) << " (" << Text(s["group"]) << ")\n"
            << "Trigger:    " << Text(s["trigger"]) << " by " << Text(s["requestedBy"]) << ": "
            << Text(s["reason"]) << "\n"
            << "Phase:      " << Text(s["phase"]) << ", step " << Text(s["step"]) << ", "
            << s.value("weight", 0) << " % on the new replica\n"
            << "Old:        " << Replica(s["oldReplica"]) << "\n"
            << "New:        " << Replica(s["newReplica"]) << "\n";
  if (!s.value("outcome", "").empty()) {
    std::cout << "Outcome:    " << Text(s["outcome"]) << "\n";
  }
  if (s.contains("decision") && !s["decision"].empty()) {
    std::cout << "Decision:   " << s["decision"].dump() << "\n";
  }
  std::cout << "Judgements:\n";
  for (const nlohmann::json& j : s["judgements"]) {
    std::cout << absl::StrFormat(
        "  step %d at %3d%%: %-12s errors %.4f vs %.4f, latency %.4fs vs %.4fs (p=%.3f), "
        "samples %d/%d\n    %s\n",
        j.value("step", 0), j.value("weight", 0), j.value("verdict", ""),
        j.value("newErrorRate", 0.0), j.value("oldErrorRate", 0.0), j.value("newLatencyMean", 0.0),
        j.value("oldLatencyMean", 0.0), j.value("latencyPValue", 1.0), j.value("newSamples", 0),
        j.value("oldSamples", 0), j.value("reason", ""));
  }
}

bool Terminal(const nlohmann::json& s) {
  std::string phase = s.value("phase", "");
  return phase == "Complete" || phase == "RolledBack";
}

}  // namespace

void AddSwitchoverCommands(CLI::App& app, CliContext& ctx) {
  struct Options {
    std::string instance, id, reason, strategy, group;
    bool all = false, watch = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sw = app.add_subcommand("switchover", "Move instances' traffic to their shadows");
  sw->require_subcommand(1);

  CLI::App* start = sw->add_subcommand("start", "Switch an instance over to its shadow");
  start->add_option("INSTANCE", o->instance, "Instance id")->required();
  start->add_option("--reason", o->reason, "Why (kept in the audit log)")->required();
  start->add_option("--strategy", o->strategy, "canary or blueGreen (default: the group's)")
      ->check(CLI::IsMember({"canary", "blueGreen"}));
  start->callback([&ctx, o] {
    nlohmann::json body = {{"instance", o->instance}, {"reason", o->reason}};
    if (!o->strategy.empty()) {
      body["strategy"] = o->strategy;
    }
    RunApiCall(
        ctx,
        [&](const ApiClient& api) {
          return api.Post("/api/v1/switchovers?author=" + UrlEncode(ctx.author), body.dump(),
                          "application/json");
        },
        [](const nlohmann::json& s) {
          std::cout << "switchover " << Text(s["id"]) << " requested for " << Text(s["instance"])
                    << "\n";
        });
  });

  CLI::App* refresh = sw->add_subcommand(
      "refresh", "Switch every instance of a group over, paced by its disruption budget");
  refresh->add_option("--group", o->group, "Group")->required();
  refresh->add_option("--reason", o->reason, "Why")->required();
  refresh->callback([&ctx, o] {
    nlohmann::json body = {{"group", o->group}, {"reason", o->reason}};
    RunApiCall(
        ctx,
        [&](const ApiClient& api) {
          return api.Post("/api/v1/switchovers/refresh?author=" + UrlEncode(ctx.author),
                          body.dump(), "application/json");
        },
        [](const nlohmann::json& r) {
          std::cout << r["started"].size() << " switchovers requested";
          if (!r["skipped"].empty()) {
            std::cout << ", " << r["skipped"].size() << " skipped:";
            for (const nlohmann::json& s : r["skipped"]) {
              std::cout << "\n  " << Text(s["instance"]) << ": " << Text(s["reason"]);
            }
          }
          std::cout << "\n";
        });
  });

  CLI::App* list = sw->add_subcommand("list", "Active switchovers (--all: every one)");
  list->add_flag("--all", o->all, "Include ended switchovers");
  list->callback([&ctx, o] {
    RunApiCall(
        ctx,
        [&](const ApiClient& api) {
          return api.Get(std::string("/api/v1/switchovers") + (o->all ? "?all=true" : ""));
        },
        PrintList);
  });

  CLI::App* status = sw->add_subcommand("status", "One switchover, with every judgement");
  status->add_option("ID", o->id, "Switchover id")->required();
  status->add_flag("--watch", o->watch, "Follow it until it ends");
  status->callback([&ctx, o] {
    if (!o->watch) {
      RunApiCall(
          ctx,
          [&](const ApiClient& api) { return api.Get("/api/v1/switchovers/" + UrlEncode(o->id)); },
          PrintStatus);
      return;
    }
    absl::StatusOr<ApiClient> api = ApiClient::Connect(ctx.server);
    if (!api.ok()) {
      ctx.exit_code = Report(api.status());
      return;
    }
    std::string last_phase;
    int last_step = -1;
    size_t judged = 0;
    while (true) {
      absl::StatusOr<nlohmann::json> s = api->Get("/api/v1/switchovers/" + UrlEncode(o->id));
      if (!s.ok()) {
        ctx.exit_code = Report(s.status());
        return;
      }
      std::string phase = s->value("phase", "");
      int step = s->value("step", 0);
      if (phase != last_phase || step != last_step) {
        std::cout << absl::FormatTime("%H:%M:%S", absl::Now(), absl::LocalTimeZone()) << "  "
                  << phase << "  step " << step << "  " << s->value("weight", 0)
                  << " % on the new replica\n";
        last_phase = phase;
        last_step = step;
      }
      const nlohmann::json& judgements = (*s)["judgements"];
      for (; judged < judgements.size(); ++judged) {
        const nlohmann::json& j = judgements[judged];
        std::cout << "          judgement at " << j.value("weight", 0)
                  << " %: " << j.value("verdict", "") << " - " << j.value("reason", "") << "\n";
      }
      if (Terminal(*s)) {
        std::cout << "ended: " << s->value("outcome", "") << "\n";
        return;
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  });

  for (const char* action : {"pause", "resume", "promote", "abort"}) {
    CLI::App* command = sw->add_subcommand(
        action,
        absl::StrCat(action == std::string("promote")
                         ? "Skip the remaining steps: the new replica takes 100 %"
                     : action == std::string("abort") ? "Roll back now"
                                                      : std::string(action) + " a switchover"));
    command->add_option("ID", o->id, "Switchover id")->required();
    command->add_option("--reason", o->reason, "Why (kept in the audit log)")->required();
    std::string name = action;
    command->callback([&ctx, o, name] {
      nlohmann::json body = {{"reason", o->reason}};
      RunApiCall(
          ctx,
          [&](const ApiClient& api) {
            return api.Post("/api/v1/switchovers/" + UrlEncode(o->id) + "/" + name +
                                "?author=" + UrlEncode(ctx.author),
                            body.dump(), "application/json");
          },
          [name](const nlohmann::json& s) {
            std::cout << name << " requested for " << Text(s["id"]) << "\n";
          });
    });
  }
}

}  // namespace shadowfleet

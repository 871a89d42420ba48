#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

#include "shadowfleet/cli/cli_support.h"
#include "shadowfleet/cli/table.h"
#include "shadowfleet/common/files.h"

namespace shadowfleet {
namespace {

void PrintInstances(const nlohmann::json& instances) {
  Table table({"INSTANCE", "GROUP", "LIVE", "LIVE-VER", "SHADOW", "SHADOW-VER", "READY", "REASON",
               "BEHIND", "DATA-LAG", "RISK"});
  for (const nlohmann::json& i : instances) {
    const nlohmann::json& r = i.value("readiness", nlohmann::json::object());
    table.AddRow({Text(i["id"]), Text(i["group"]), Text(i["livePhase"]), Text(i["liveVersion"]),
                  Text(i["shadowPhase"]), Text(i["shadowVersion"]),
                  r.value("ready", false) ? "yes" : "no", Text(r.value("reason", nlohmann::json())),
                  absl::StrCat(r.value("versionsBehind", 0), "v/",
                               Seconds(r.value("secondsBehind", nlohmann::json()))),
                  Seconds(r.value("dataLagSeconds", nlohmann::json())), Text(i["riskScore"])});
  }
  table.Print(std::cout);
}

void PrintReadiness(const nlohmann::json& report) {
  const nlohmann::json& f = report["fleet"];
  std::cout << absl::StrFormat(
      "fleet readiness: %d/%d live instances have a ready shadow (%.1f%%); worst lag: %d "
      "versions, %.1fs behind live, data %.1fs\n\n",
      f.value("readyShadows", 0), f.value("liveInstances", 0), 100.0 * f.value("readyRatio", 0.0),
      f.value("maxVersionsBehind", 0), f.value("maxSecondsBehind", 0.0),
      f.value("maxDataLagSeconds", 0.0));
  Table table(
      {"INSTANCE", "READY", "REASON", "LIVE-VER", "SHADOW-VER", "BEHIND", "DATA-LAG", "DETAIL"});
  for (const nlohmann::json& r : report["instances"]) {
    table.AddRow({Text(r["instance"]), r.value("ready", false) ? "yes" : "no", Text(r["reason"]),
                  Text(r["liveVersion"]), Text(r["shadowVersion"]),
                  absl::StrCat(r.value("versionsBehind", 0), "v/", Seconds(r["secondsBehind"])),
                  Seconds(r["dataLagSeconds"]), Text(r["detail"])});
  }
  table.Print(std::cout);
}

void PrintEvents(const nlohmann::json& events) {
  Table table({"ID", "TIME", "KIND", "SUBJECT", "ACTOR", "MESSAGE"});
  for (const nlohmann::json& e : events) {
    table.AddRow({Text(e["id"]), Text(e["time"]), Text(e["kind"]), Text(e["subject"]),
                  Text(e["actor"]), Text(e["message"])});
  }
  table.Print(std::cout);
}

void PrintDescribe(const nlohmann::json& d) {
  const nlohmann::json& m = d["metadata"];
  std::cout << "Instance:       " << Text(d["id"]) << "\n"
            << "Fleet/group:    " << Text(d["fleet"]) << "/" << Text(d["group"]) << "\n"
            << "Instance type:  " << Text(m["instanceType"]) << "\n"
            << "OS:             " << Text(m["os"].value("name", nlohmann::json())) << " "
            << Text(m["os"].value("version", nlohmann::json())) << "\n"
            << "Last refreshed: " << Text(m["lastRefreshed"]) << "\n"
            << "Risk score:     " << Text(m["riskScore"]) << "\n"
            << "Software stack:\n";
  for (const nlohmann::json& p : m["softwareStack"]) {
    std::cout << "  " << Text(p["name"]) << " " << Text(p["version"]) << "\n";
  }
  auto replica = [](const nlohmann::json& r) {
    return r.is_null() ? std::string("-")
                       : absl::StrCat(Text(r["replica"]), " (", Text(r["providerId"]), ", ",
                                      Text(r["endpoint"]), ")");
  };
  std::cout << "Live:           " << replica(d["live"]) << " " << Text(d["livePhase"])
            << " at version " << Text(d["liveVersion"]) << "\n"
            << "Shadow:         " << replica(d["shadow"]) << " " << Text(d["shadowPhase"])
            << " at version " << Text(d["shadowVersion"]) << "\n";
  if (d.contains("readiness")) {
    const nlohmann::json& r = d["readiness"];
    std::cout << "Readiness:      " << (r.value("ready", false) ? "ready" : "not ready") << " ("
              << Text(r["reason"]) << (r.value("detail", "").empty() ? "" : ": ")
              << r.value("detail", "") << "); " << Text(r["versionsBehind"]) << " versions / "
              << Seconds(r["secondsBehind"]) << " behind live, data lag "
              << Seconds(r["dataLagSeconds"]) << "\n";
  }
  if (!d["volumes"].empty()) {
    std::cout << "Data volumes:\n";
    for (const nlohmann::json& v : d["volumes"]) {
      std::cout << "  " << Text(v["name"]) << ": copy as of "
                << Text(v.value("syncedAsOf", nlohmann::json())) << " (max lag "
                << Seconds(v["maxLagSeconds"]) << ")"
                << (v.value("lastError", "").empty() ? "" : " error: " + v.value("lastError", ""))
                << "\n";
    }
  }
  std::cout << "Recent events:\n";
  for (const nlohmann::json& e : d["events"]) {
    std::cout << "  " << Text(e["time"]) << "  " << Text(e["kind"]) << "  " << Text(e["message"])
              << "\n";
  }
}

void PrintFleets(const nlohmann::json& fleets) {
  Table table({"FLEET", "GENERATION", "APPLIED", "BY", "GROUPS"});
  for (const nlohmann::json& f : fleets) {
    std::vector<std::string> groups;
    for (const nlohmann::json& gr : f["groups"]) {
      groups.push_back(absl::StrCat(Text(gr["name"]), "(", Text(gr["replicas"]), " ",
                                    Text(gr["provider"]), ")"));
    }
    table.AddRow({Text(f["name"]), Text(f["generation"]), Text(f["appliedAt"]),
                  Text(f["appliedBy"]), absl::StrJoin(groups, ", ")});
  }
  table.Print(std::cout);
}

void PrintApplied(const nlohmann::json& r) {
  for (const nlohmann::json& f : r["fleets"]) {
    std::cout << "fleet/" << Text(f["name"])
              << (f.value("changed", false) ? " applied" : " unchanged") << " (generation "
              << Text(f["generation"]) << ", " << Text(f["instances"]) << " managed instances)\n";
  }
}

}  // namespace

void AddFleetCommands(CLI::App& app, CliContext& ctx) {
  struct Options {
    std::string file, instance, fleet, subject, kind;
    int64_t limit = 50;
  };
  auto o = std::make_shared<Options>();

  CLI::App* apply = app.add_subcommand("apply", "Apply fleet specs (kind: Fleet) from a file");
  apply->add_option("-f,--file", o->file, "YAML file with one or more Fleet documents")->required();
  apply->add_option("--author", ctx.author, "Who applies it (recorded with each version)");
  apply->callback([&ctx, o] {
    absl::StatusOr<std::string> text = ReadFile(o->file);
    if (!text.ok()) {
      ctx.exit_code = Report(text.status());
      return;
    }
    RunApiCall(
        ctx,
        [&](const ApiClient& api) {
          return api.Post(absl::StrCat("/api/v1/apply?file=", UrlEncode(o->file),
                                       "&author=", UrlEncode(ctx.author)),
                          *text, "application/yaml");
        },
        PrintApplied);
  });

  CLI::App* get = app.add_subcommand("get", "List instances, fleets or readiness");
  get->require_subcommand(1);
  auto simple_get = [&ctx](CLI::App* command, const std::string& path, TablePrinter print) {
    command->callback([&ctx, path, print] {
      RunApiCall(
          ctx, [&](const ApiClient& api) { return api.Get(path); }, print);
    });
  };
  simple_get(get->add_subcommand("instances", "Instances with their live and shadow state"),
             "/api/v1/instances", PrintInstances);
  simple_get(get->add_subcommand("readiness", "Shadow readiness of the fleet and each instance"),
             "/api/v1/readiness", PrintReadiness);
  simple_get(get->add_subcommand("fleets", "Applied fleet specs"), "/api/v1/fleets", PrintFleets);

  CLI::App* describe = app.add_subcommand("describe", "Show one object in detail");
  describe->require_subcommand(1);
  CLI::App* describe_instance = describe->add_subcommand("instance", "An instance");
  describe_instance->add_option("ID", o->instance, "Instance id")->required();
  describe_instance->callback([&ctx, o] {
    RunApiCall(
        ctx,
        [&](const ApiClient& api) {
          return api.Get("/api/v1/instances/" + UrlEncode(o->instance));
        },
        PrintDescribe);
  });

  CLI::App* remove = app.add_subcommand("delete", "Delete an object");
  remove->require_subcommand(1);
  CLI::App* remove_fleet = remove->add_subcommand(
      "fleet", "Delete a fleet spec: its shadows and managed live replicas are torn down");
  remove_fleet->add_option("NAME", o->fleet, "Fleet name")->required();
  remove_fleet->callback([&ctx, o] {
    RunApiCall(
        ctx,
        [&](const ApiClient& api) {
          return api.Delete("/api/v1/fleets/" + UrlEncode(o->fleet) +
                            "?author=" + UrlEncode(ctx.author));
        },
        [o](const nlohmann::json&) { std::cout << "fleet/" << o->fleet << " deleted\n"; });
  });

  CLI::App* events = app.add_subcommand("events", "The audit log");
  events->add_option("--instance", o->subject, "Only events about this instance");
  events->add_option("--kind", o->kind, "Only events whose kind starts with this");
  events->add_option("--limit", o->limit, "Newest events to show")->capture_default_str();
  events->callback([&ctx, o] {
    RunApiCall(
        ctx,
        [&](const ApiClient& api) {
          return api.Get(absl::StrCat("/api/v1/events?limit=", o->limit, "&subject=",
                                      UrlEncode(o->subject), "&kind=", UrlEncode(o->kind)));
        },
        PrintEvents);
  });
}

}  // namespace shadowfleet

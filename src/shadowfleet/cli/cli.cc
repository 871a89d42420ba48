#include "shadowfleet/cli/cli.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include <CLI/CLI.hpp>

#include "shadowfleet/cli/api_client.h"
#include "shadowfleet/cli/table.h"
#include "shadowfleet/common/files.h"
#include "shadowfleet/daemon/daemon.h"
#include "shadowfleet/demo/demo.h"

namespace shadowfleet {
namespace {

struct Globals {
  std::string server;
  std::string output = "table";
};

int Report(const absl::Status& status) {
  std::cerr << "error: " << status.message() << "\n";
  if (absl::IsUnavailable(status)) {
    return kExitUnreachable;
  }
  if (absl::IsInvalidArgument(status)) {
    return kExitUsage;
  }
  return kExitFailed;
}

std::string Text(const nlohmann::json& value) {
  if (value.is_null()) {
    return "-";
  }
  if (value.is_string()) {
    return value.get<std::string>();
  }
  if (value.is_number_float()) {
    return absl::StrFormat("%.1f", value.get<double>());
  }
  return value.dump();
}

std::string Seconds(const nlohmann::json& value) {
  if (!value.is_number()) {
    return "-";
  }
  double s = value.get<double>();
  return s < 0.05 ? "0s" : absl::StrFormat("%.1fs", s);
}

// Runs a request and prints its JSON result, or hands it to `table` for the table form.
int Emit(const Globals& g, const absl::StatusOr<nlohmann::json>& result,
         const std::function<void(const nlohmann::json&)>& table) {
  if (!result.ok()) {
    return Report(result.status());
  }
  if (g.output == "json") {
    std::cout << result->dump(2) << "\n";
  } else {
    table(*result);
  }
  return kExitOk;
}

absl::StatusOr<ApiClient> Client(const Globals& g) {
  return ApiClient::Connect(g.server);
}

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

void PrintHistory(const nlohmann::json& versions) {
  Table table({"VERSION", "CREATED", "SOURCE", "AUTHOR", "TESTED", "STORED", "DIGEST", "REASON"});
  for (const nlohmann::json& v : versions) {
    table.AddRow(
        {Text(v["version"]), Text(v["createdAt"]), Text(v["source"]), Text(v["author"]),
         v["testedAt"].is_null() ? "no" : "yes",
         absl::StrCat(v.value("storedBytes", 0), v.value("checkpoint", false) ? "B*" : "B"),
         Text(v["digest"]).substr(0, 12), Text(v["reason"])});
  }
  table.Print(std::cout);
  std::cout << "(* full checkpoint; other versions are stored as deltas)\n";
}

void PrintPatch(const nlohmann::json& patch) {
  if (patch.empty()) {
    std::cout << "(no difference)\n";
  }
  for (const nlohmann::json& op : patch) {
    std::string kind = op.value("op", "?");
    std::string sign = kind == "add" ? "+" : kind == "remove" ? "-" : "~";
    std::cout << sign << " " << op.value("path", "") << " (" << kind << ")";
    if (op.contains("value")) {
      std::cout << " = " << op["value"].dump();
    }
    std::cout << "\n";
  }
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

// "software.openssl=3.0.16" -> ("/software/openssl", "3.0.16"); values that parse as JSON
// (numbers, true, {"a":1}) are taken as JSON, anything else as a string.
absl::StatusOr<std::pair<std::string, nlohmann::json>> ParseAssignment(const std::string& text) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError("expected KEY=VALUE (e.g. software.openssl=3.0.16), got \"" +
                                      text + "\"");
  }
  std::string key = text.substr(0, eq);
  std::string pointer = key[0] == '/' ? key : "/" + absl::StrJoin(absl::StrSplit(key, '.'), "/");
  std::string raw = text.substr(eq + 1);
  nlohmann::json value = nlohmann::json::parse(raw, nullptr, false);
  if (value.is_discarded()) {
    value = raw;
  }
  return std::make_pair(pointer, value);
}

std::string DefaultAuthor() {
  const char* user = std::getenv("USER");
  return user != nullptr && *user != '\0' ? user : "cli";
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{
      "shadowfleet keeps a continuously patched shadow for every live instance of a fleet.\n"
      "Client commands talk to a running daemon (see `shadowfleet serve`)."};
  app.require_subcommand(1);
  Globals g;
  const char* env_server = std::getenv("SHADOWFLEET_SERVER");
  g.server = env_server != nullptr ? env_server : "127.0.0.1:7070";
  app.add_option("-s,--server", g.server, "Daemon address host:port (env SHADOWFLEET_SERVER)")
      ->capture_default_str();
  app.add_option("-o,--output", g.output, "Output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  int exit_code = kExitOk;

  // serve
  std::string config_path;
  CLI::App* serve = app.add_subcommand("serve", "Run the daemon: reconcilers, API and metrics");
  serve->add_option("-c,--config", config_path, "Daemon configuration (kind: Daemon)")->required();
  serve->callback([&] { exit_code = RunServe(config_path); });

  // demo
  DemoOptions demo_options;
  CLI::App* demo = app.add_subcommand(
      "demo", "Run a local fleet with its shadows and show the Shadow Fleet Manager at work");
  demo->add_option("--listen", demo_options.listen, "API address")->capture_default_str();
  demo->add_option("--state-dir", demo_options.state_dir,
                   "Where state and logs go (default: a new temporary directory)");
  demo->add_option("--instances", demo_options.instances, "Live instances")
      ->check(CLI::Range(1, 50))
      ->capture_default_str();
  demo->add_flag("--keep-running", demo_options.keep_running,
                 "Leave the fleet and API up until Ctrl-C");
  demo->callback([&] { exit_code = RunDemo(demo_options); });

  // apply
  std::string spec_file;
  std::string author = DefaultAuthor();
  CLI::App* apply = app.add_subcommand("apply", "Apply fleet specs (kind: Fleet) from a file");
  apply->add_option("-f,--file", spec_file, "YAML file with one or more Fleet documents")
      ->required();
  apply->add_option("--author", author, "Who applies it (recorded with each version)");
  apply->callback([&] {
    absl::StatusOr<std::string> text = ReadFile(spec_file);
    if (!text.ok()) {
      exit_code = Report(text.status());
      return;
    }
    absl::StatusOr<ApiClient> client = Client(g);
    if (!client.ok()) {
      exit_code = Report(client.status());
      return;
    }
    exit_code = Emit(g,
                     client->Post(absl::StrCat("/api/v1/apply?file=", UrlEncode(spec_file),
                                               "&author=", UrlEncode(author)),
                                  *text, "application/yaml"),
                     [](const nlohmann::json& r) {
                       for (const nlohmann::json& f : r["fleets"]) {
                         std::cout << "fleet/" << Text(f["name"])
                                   << (f.value("changed", false) ? " applied" : " unchanged")
                                   << " (generation " << Text(f["generation"]) << ", "
                                   << Text(f["instances"]) << " managed instances)\n";
                       }
                     });
  });

  // get
  CLI::App* get = app.add_subcommand("get", "List instances, fleets or readiness");
  get->require_subcommand(1);
  auto simple_get = [&](CLI::App* cmd, std::string path,
                        std::function<void(const nlohmann::json&)> print) {
    cmd->callback([&g, &exit_code, path, print] {
      absl::StatusOr<ApiClient> client = Client(g);
      exit_code = client.ok() ? Emit(g, client->Get(path), print) : Report(client.status());
    });
  };
  simple_get(get->add_subcommand("instances", "Instances with their live and shadow state"),
             "/api/v1/instances", PrintInstances);
  simple_get(get->add_subcommand("readiness", "Shadow readiness of the fleet and each instance"),
             "/api/v1/readiness", PrintReadiness);
  simple_get(get->add_subcommand("fleets", "Applied fleet specs"), "/api/v1/fleets",
             [](const nlohmann::json& fleets) {
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
             });

  // describe
  std::string instance_id;
  CLI::App* describe = app.add_subcommand("describe", "Show one object in detail");
  describe->require_subcommand(1);
  CLI::App* describe_instance = describe->add_subcommand("instance", "An instance");
  describe_instance->add_option("ID", instance_id, "Instance id")->required();
  describe_instance->callback([&] {
    absl::StatusOr<ApiClient> client = Client(g);
    exit_code = client.ok() ? Emit(g, client->Get("/api/v1/instances/" + UrlEncode(instance_id)),
                                   PrintDescribe)
                            : Report(client.status());
  });

  // config
  CLI::App* config = app.add_subcommand("config", "The configuration ledger of instances");
  config->require_subcommand(1);
  int64_t limit = 50, from = 0, to = 0, version = 0, keep = 1000, keep_days = 30;
  CLI::App* history = config->add_subcommand("history", "Versions of an instance's configuration");
  history->add_option("ID", instance_id, "Instance id")->required();
  history->add_option("--limit", limit, "Newest versions to show")->capture_default_str();
  history->callback([&] {
    absl::StatusOr<ApiClient> client = Client(g);
    exit_code = client.ok()
                    ? Emit(g,
                           client->Get(absl::StrCat("/api/v1/instances/", UrlEncode(instance_id),
                                                    "/versions?limit=", limit)),
                           PrintHistory)
                    : Report(client.status());
  });
  CLI::App* diff = config->add_subcommand("diff", "What changed between two versions");
  diff->add_option("ID", instance_id, "Instance id")->required();
  diff->add_option("--from", from, "Older version")->required();
  diff->add_option("--to", to, "Newer version")->required();
  diff->callback([&] {
    absl::StatusOr<ApiClient> client = Client(g);
    exit_code = client.ok()
                    ? Emit(g,
                           client->Get(absl::StrCat("/api/v1/instances/", UrlEncode(instance_id),
                                                    "/diff?from=", from, "&to=", to)),
                           [](const nlohmann::json& r) { PrintPatch(r["patch"]); })
                    : Report(client.status());
  });
  CLI::App* show = config->add_subcommand("show", "The configuration document at a version");
  show->add_option("ID", instance_id, "Instance id")->required();
  show->add_option("--version", version, "Version (default: the newest)");
  show->callback([&] {
    absl::StatusOr<ApiClient> client = Client(g);
    if (!client.ok()) {
      exit_code = Report(client.status());
      return;
    }
    int64_t v = version;
    if (v == 0) {
      absl::StatusOr<nlohmann::json> versions = client->Get(
          absl::StrCat("/api/v1/instances/", UrlEncode(instance_id), "/versions?limit=1"));
      if (!versions.ok()) {
        exit_code = Report(versions.status());
        return;
      }
      if (versions->empty()) {
        exit_code = Report(absl::NotFoundError(instance_id + " has no versions yet"));
        return;
      }
      v = (*versions)[0].value("version", int64_t{0});
    }
    exit_code = Emit(
        g, client->Get(absl::StrCat("/api/v1/instances/", UrlEncode(instance_id), "/versions/", v)),
        [](const nlohmann::json& r) {
          std::cout << "# version " << Text(r["version"]) << " (" << Text(r["source"]) << ", "
                    << Text(r["createdAt"]) << ")\n"
                    << r["document"].dump(2) << "\n";
        });
  });
  std::vector<std::string> targets, assignments;
  std::string group, reason, patch_file;
  CLI::App* set = config->add_subcommand(
      "set", "Record a configuration change on live instances (KEY=VALUE, dotted keys)");
  set->add_option("ID", targets, "Instance ids (or use --group)");
  set->add_option("--group", group, "Every instance of this group");
  set->add_option("--set", assignments, "KEY=VALUE, e.g. software.openssl=3.0.16")->required();
  set->add_option("--reason", reason, "Why (recorded with the version)")->required();
  set->add_option("--author", author, "Who");
  set->callback([&] {
    nlohmann::json body = {{"author", author}, {"reason", reason}};
    if (!group.empty()) {
      body["group"] = group;
    } else {
      body["instances"] = targets;
    }
    nlohmann::json values = nlohmann::json::object();
    for (const std::string& a : assignments) {
      absl::StatusOr<std::pair<std::string, nlohmann::json>> parsed = ParseAssignment(a);
      if (!parsed.ok()) {
        exit_code = Report(parsed.status());
        return;
      }
      values[parsed->first] = parsed->second;
    }
    body["set"] = values;
    absl::StatusOr<ApiClient> client = Client(g);
    exit_code =
        client.ok()
            ? Emit(
                  g, client->Post("/api/v1/changes", body.dump(), "application/json"),
                  [](const nlohmann::json& r) {
                    for (const nlohmann::json& v : r["versions"]) {
                      if (v.contains("error")) {
                        std::cout << Text(v["instance"]) << ": error: " << Text(v["error"]) << "\n";
                      } else {
                        std::cout << Text(v["instance"]) << ": version " << Text(v["version"])
                                  << (v.value("created", false) ? " recorded\n" : " (unchanged)\n");
                      }
                    }
                  })
            : Report(client.status());
  });
  CLI::App* patch =
      config->add_subcommand("patch", "Record a change given as an RFC 6902 JSON Patch file");
  patch->add_option("ID", targets, "Instance ids")->required();
  patch->add_option("-f,--file", patch_file, "JSON Patch file")->required();
  patch->add_option("--reason", reason, "Why")->required();
  patch->add_option("--author", author, "Who");
  patch->callback([&] {
    absl::StatusOr<std::string> text = ReadFile(patch_file);
    if (!text.ok()) {
      exit_code = Report(text.status());
      return;
    }
    nlohmann::json ops = nlohmann::json::parse(*text, nullptr, false);
    if (ops.is_discarded()) {
      exit_code = Report(absl::InvalidArgumentError(patch_file + ": not valid JSON"));
      return;
    }
    nlohmann::json body = {
        {"instances", targets}, {"patch", ops}, {"author", author}, {"reason", reason}};
    absl::StatusOr<ApiClient> client = Client(g);
    exit_code = client.ok()
                    ? Emit(g, client->Post("/api/v1/changes", body.dump(), "application/json"),
                           [](const nlohmann::json& r) { std::cout << r.dump(2) << "\n"; })
                    : Report(client.status());
  });
  CLI::App* tested = config->add_subcommand(
      "mark-tested", "Mark a version as tested on live (for shadows applied afterTested)");
  tested->add_option("ID", instance_id, "Instance id")->required();
  tested->add_option("--version", version, "Version")->required();
  tested->callback([&] {
    absl::StatusOr<ApiClient> client = Client(g);
    exit_code = client.ok()
                    ? Emit(g,
                           client->Post(absl::StrCat("/api/v1/instances/", UrlEncode(instance_id),
                                                     "/versions/", version,
                                                     "/tested?author=", UrlEncode(author)),
                                        "", "application/json"),
                           [](const nlohmann::json& r) {
                             std::cout << "version " << Text(r["version"]) << " marked tested\n";
                           })
                    : Report(client.status());
  });
  CLI::App* delta = config->add_subcommand(
      "shadow-delta", "The delta that takes the shadow from its version to live's");
  delta->add_option("ID", instance_id, "Instance id")->required();
  delta->callback([&] {
    absl::StatusOr<ApiClient> client = Client(g);
    exit_code =
        client.ok()
            ? Emit(g, client->Get("/api/v1/instances/" + UrlEncode(instance_id) + "/shadow-delta"),
                   [](const nlohmann::json& r) {
                     std::cout << "shadow at version " << Text(r["shadowVersion"])
                               << ", live at version " << Text(r["liveVersion"]) << "\n";
                     PrintPatch(r["configurationDelta"]);
                   })
            : Report(client.status());
  });
  CLI::App* compact = config->add_subcommand("compact", "Apply the retention policy now");
  compact->add_option("ID", instance_id, "Instance id")->required();
  compact->add_option("--keep", keep, "Newest versions to keep")->capture_default_str();
  compact->add_option("--keep-days", keep_days, "Keep versions younger than this")
      ->capture_default_str();
  compact->callback([&] {
    absl::StatusOr<ApiClient> client = Client(g);
    exit_code = client.ok()
                    ? Emit(g,
                           client->Post(absl::StrCat("/api/v1/instances/", UrlEncode(instance_id),
                                                     "/compact?keepVersions=", keep,
                                                     "&keepDays=", keep_days),
                                        "", "application/json"),
                           [](const nlohmann::json& r) {
                             std::cout << "removed " << Text(r["removedVersions"])
                                       << " versions; oldest kept " << Text(r["oldestKept"])
                                       << "\n";
                           })
                    : Report(client.status());
  });
  CLI::App* verify =
      config->add_subcommand("verify", "Rebuild every stored version and check its digest");
  verify->add_option("ID", instance_id, "Instance id")->required();
  verify->callback([&] {
    absl::StatusOr<ApiClient> client = Client(g);
    exit_code = client.ok()
                    ? Emit(g,
                           client->Post("/api/v1/instances/" + UrlEncode(instance_id) + "/verify",
                                        "", "application/json"),
                           [](const nlohmann::json&) { std::cout << "ledger intact\n"; })
                    : Report(client.status());
  });

  // delete
  std::string fleet_name;
  CLI::App* remove = app.add_subcommand("delete", "Delete an object");
  remove->require_subcommand(1);
  CLI::App* remove_fleet = remove->add_subcommand(
      "fleet", "Delete a fleet spec: its shadows and managed live replicas are torn down");
  remove_fleet->add_option("NAME", fleet_name, "Fleet name")->required();
  remove_fleet->callback([&] {
    absl::StatusOr<ApiClient> client = Client(g);
    exit_code = client.ok() ? Emit(g,
                                   client->Delete("/api/v1/fleets/" + UrlEncode(fleet_name) +
                                                  "?author=" + UrlEncode(author)),
                                   [&fleet_name](const nlohmann::json&) {
                                     std::cout << "fleet/" << fleet_name << " deleted\n";
                                   })
                            : Report(client.status());
  });

  // events
  std::string subject, kind;
  CLI::App* events = app.add_subcommand("events", "The audit log");
  events->add_option("--instance", subject, "Only events about this instance");
  events->add_option("--kind", kind, "Only events whose kind starts with this");
  events->add_option("--limit", limit, "Newest events to show")->capture_default_str();
  events->callback([&] {
    absl::StatusOr<ApiClient> client = Client(g);
    exit_code = client.ok()
                    ? Emit(g,
                           client->Get(absl::StrCat("/api/v1/events?limit=", limit, "&subject=",
                                                    UrlEncode(subject), "&kind=", UrlEncode(kind))),
                           PrintEvents)
                    : Report(client.status());
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  return exit_code;
}

}  // namespace shadowfleet

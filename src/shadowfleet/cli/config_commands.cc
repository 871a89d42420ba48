#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

#include "shadowfleet/cli/cli_support.h"
#include "shadowfleet/cli/table.h"
#include "shadowfleet/common/files.h"

namespace shadowfleet {
namespace {

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

void PrintRecorded(const nlohmann::json& r) {
  for (const nlohmann::json& v : r["versions"]) {
    if (v.contains("error")) {
      std::cout << Text(v["instance"]) << ": error: " << Text(v["error"]) << "\n";
    } else {
      std::cout << Text(v["instance"]) << ": version " << Text(v["version"])
                << (v.value("created", false) ? " recorded\n" : " (unchanged)\n");
    }
  }
}

std::string InstancePath(const std::string& id) {
  return "/api/v1/instances/" + UrlEncode(id);
}

}  // namespace

void AddConfigCommands(CLI::App& app, CliContext& ctx) {
  struct Options {
    std::string instance, group, reason, patch_file;
    std::vector<std::string> targets, assignments;
    int64_t limit = 50, from = 0, to = 0, version = 0, keep = 1000, keep_days = 30;
  };
  auto o = std::make_shared<Options>();
  CLI::App* config = app.add_subcommand("config", "The configuration ledger of instances");
  config->require_subcommand(1);

  CLI::App* history = config->add_subcommand("history", "Versions of an instance's configuration");
  history->add_option("ID", o->instance, "Instance id")->required();
  history->add_option("--limit", o->limit, "Newest versions to show")->capture_default_str();
  history->callback([&ctx, o] {
    RunApiCall(
        ctx,
        [&](const ApiClient& api) {
          return api.Get(absl::StrCat(InstancePath(o->instance), "/versions?limit=", o->limit));
        },
        PrintHistory);
  });

  CLI::App* diff = config->add_subcommand("diff", "What changed between two versions");
  diff->add_option("ID", o->instance, "Instance id")->required();
  diff->add_option("--from", o->from, "Older version")->required();
  diff->add_option("--to", o->to, "Newer version")->required();
  diff->callback([&ctx, o] {
    RunApiCall(
        ctx,
        [&](const ApiClient& api) {
          return api.Get(
              absl::StrCat(InstancePath(o->instance), "/diff?from=", o->from, "&to=", o->to));
        },
        [](const nlohmann::json& r) { PrintPatch(r["patch"]); });
  });

  CLI::App* show = config->add_subcommand("show", "The configuration document at a version");
  show->add_option("ID", o->instance, "Instance id")->required();
  show->add_option("--version", o->version, "Version (default: the newest)");
  show->callback([&ctx, o] {
    RunApiCall(
        ctx,
        [&](const ApiClient& api) -> absl::StatusOr<nlohmann::json> {
          int64_t v = o->version;
          if (v == 0) {
            absl::StatusOr<nlohmann::json> newest =
                api.Get(InstancePath(o->instance) + "/versions?limit=1");
            if (!newest.ok()) {
              return newest.status();
            }
            if (newest->empty()) {
              return absl::NotFoundError(o->instance + " has no versions yet");
            }
            v = (*newest)[0].value("version", int64_t{0});
          }
          return api.Get(absl::StrCat(InstancePath(o->instance), "/versions/", v));
        },
        [](const nlohmann::json& r) {
          std::cout << "# version " << Text(r["version"]) << " (" << Text(r["source"]) << ", "
                    << Text(r["createdAt"]) << ")\n"
                    << r["document"].dump(2) << "\n";
        });
  });

  CLI::App* set = config->add_subcommand(
      "set", "Record a configuration change on live instances (KEY=VALUE, dotted keys)");
  set->add_option("ID", o->targets, "Instance ids (or use --group)");
  set->add_option("--group", o->group, "Every instance of this group");
  set->add_option("--set", o->assignments, "KEY=VALUE, e.g. software.openssl=3.0.16")->required();
  set->add_option("--reason", o->reason, "Why (recorded with the version)")->required();
  set->add_option("--author", ctx.author, "Who");
  set->callback([&ctx, o] {
    nlohmann::json body = {{"author", ctx.author}, {"reason", o->reason}};
    if (!o->group.empty()) {
      body["group"] = o->group;
    } else {
      body["instances"] = o->targets;
    }
    nlohmann::json values = nlohmann::json::object();
    for (const std::string& a : o->assignments) {
      absl::StatusOr<std::pair<std::string, nlohmann::json>> parsed = ParseAssignment(a);
      if (!parsed.ok()) {
        ctx.exit_code = Report(parsed.status());
        return;
      }
      values[parsed->first] = parsed->second;
    }
    body["set"] = values;
    RunApiCall(
        ctx,
        [&](const ApiClient& api) {
          return api.Post("/api/v1/changes", body.dump(), "application/json");
        },
        PrintRecorded);
  });

  CLI::App* patch =
      config->add_subcommand("patch", "Record a change given as an RFC 6902 JSON Patch file");
  patch->add_option("ID", o->targets, "Instance ids")->required();
  patch->add_option("-f,--file", o->patch_file, "JSON Patch file")->required();
  patch->add_option("--reason", o->reason, "Why")->required();
  patch->add_option("--author", ctx.author, "Who");
  patch->callback([&ctx, o] {
    absl::StatusOr<std::string> text = ReadFile(o->patch_file);
    if (!text.ok()) {
      ctx.exit_code = Report(text.status());
      return;
    }
    nlohmann::json ops = nlohmann::json::parse(*text, nullptr, false);
    if (ops.is_discarded()) {
      ctx.exit_code = Report(absl::InvalidArgumentError(o->patch_file + ": not valid JSON"));
      return;
    }
    nlohmann::json body = {
        {"instances", o->targets}, {"patch", ops}, {"author", ctx.author}, {"reason", o->reason}};
    RunApiCall(
        ctx,
        [&](const ApiClient& api) {
          return api.Post("/api/v1/changes", body.dump(), "application/json");
        },
        PrintRecorded);
  });

  CLI::App* tested = config->add_subcommand(
      "mark-tested", "Mark a version as tested on live (for shadows applied afterTested)");
  tested->add_option("ID", o->instance, "Instance id")->required();
  tested->add_option("--version", o->version, "Version")->required();
  tested->callback([&ctx, o] {
    RunApiCall(
        ctx,
        [&](const ApiClient& api) {
          return api.Post(absl::StrCat(InstancePath(o->instance), "/versions/", o->version,
                                       "/tested?author=", UrlEncode(ctx.author)),
                          "", "application/json");
        },
        [](const nlohmann::json& r) {
          std::cout << "version " << Text(r["version"]) << " marked tested\n";
        });
  });

  CLI::App* delta = config->add_subcommand(
      "shadow-delta", "The delta that takes the shadow from its version to live's");
  delta->add_option("ID", o->instance, "Instance id")->required();
  delta->callback([&ctx, o] {
    RunApiCall(
        ctx,
        [&](const ApiClient& api) { return api.Get(InstancePath(o->instance) + "/shadow-delta"); },
        [](const nlohmann::json& r) {
          std::cout << "shadow at version " << Text(r["shadowVersion"]) << ", live at version "
                    << Text(r["liveVersion"]) << "\n";
          PrintPatch(r["configurationDelta"]);
        });
  });

  CLI::App* compact = config->add_subcommand("compact", "Apply the retention policy now");
  compact->add_option("ID", o->instance, "Instance id")->required();
  compact->add_option("--keep", o->keep, "Newest versions to keep")->capture_default_str();
  compact->add_option("--keep-days", o->keep_days, "Keep versions younger than this")
      ->capture_default_str();
  compact->callback([&ctx, o] {
    RunApiCall(
        ctx,
        [&](const ApiClient& api) {
          return api.Post(absl::StrCat(InstancePath(o->instance), "/compact?keepVersions=", o->keep,
                                       "&keepDays=", o->keep_days),
                          "", "application/json");
        },
        [](const nlohmann::json& r) {
          std::cout << "removed " << Text(r["removedVersions"]) << " versions; oldest kept "
                    << Text(r["oldestKept"]) << "\n";
        });
  });

  CLI::App* verify =
      config->add_subcommand("verify", "Rebuild every stored version and check its digest");
  verify->add_option("ID", o->instance, "Instance id")->required();
  verify->callback([&ctx, o] {
    RunApiCall(
        ctx,
        [&](const ApiClient& api) {
          return api.Post(InstancePath(o->instance) + "/verify", "", "application/json");
        },
        [](const nlohmann::json&) { std::cout << "ledger intact\n"; });
  });
}

}  // namespace shadowfleet

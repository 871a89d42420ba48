#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "shadowfleet/cli/cli_support.h"
#include "shadowfleet/cli/table.h"

namespace shadowfleet {
namespace {

std::string TopFactor(const nlohmann::json& view) {
  const nlohmann::json& factors = view.value("topFactors", nlohmann::json::array());
  return factors.empty() ? "-" : factors[0].value("description", "-");
}

void PrintRisks(const nlohmann::json& views) {
  Table table({"INSTANCE", "RISK", "HORIZON", "RECOMMENDATION", "SHADOW", "MODEL", "TOP FACTOR"});
  for (const nlohmann::json& v : views) {
    table.AddRow({Text(v["instance"]), absl::StrFormat("%.3f", v.value("risk", 0.0)),
                  absl::FormatDuration(absl::Seconds(v.value("horizonSeconds", 0.0))),
                  Text(v["recommendation"]),
                  v.value("unprotected", false)   ? "NOT READY (unprotected)"
                  : v.value("shadowReady", false) ? "ready"
                                                  : "not ready",
                  Text(v["model"]), TopFactor(v)});
  }
  table.Print(std::cout);
}

void PrintRisk(const nlohmann::json& v) {
  std::cout << absl::StrFormat(
      "%s: risk %.3f of failing within %s (%s), threshold %.2f; model %s\n",
      v.value("instance", ""), v.value("risk", 0.0),
      absl::FormatDuration(absl::Seconds(v.value("horizonSeconds", 0.0))),
      v.value("recommendation", ""), v.value("threshold", 0.0), v.value("model", ""));
  std::cout << "shadow: " << (v.value("shadowReady", false) ? "ready" : "not ready")
            << (v.value("unprotected", false) ? " (at risk and unprotected)" : "") << "\n";
  std::cout << "top factors:\n";
  for (const nlohmann::json& f : v["topFactors"]) {
    std::cout << absl::StrFormat("  %+.3f  %s\n", f.value("contribution", 0.0),
                                 f.value("description", ""));
  }
  const nlohmann::json& history = v.value("history", nlohmann::json::array());
  if (!history.empty()) {
    std::cout << "history (" << history.size() << " points): ";
    size_t from = history.size() > 12 ? history.size() - 12 : 0;
    for (size_t i = from; i < history.size(); ++i) {
      std::cout << absl::StrFormat("%.2f ", history[i][1].get<double>());
    }
    std::cout << "\n";
  }
}

}  // namespace

void AddLiveRiskCommands(CLI::App& app, CliContext& ctx) {
  struct Options {
    std::string instance, kind = "reported", reason;
    bool retrain = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* risk = app.add_subcommand(
      "risk", "Risk scores: P(failure within the horizon), factors and recommendation");
  risk->add_option("INSTANCE", o->instance, "One instance, with its history (default: all)");
  risk->callback([&ctx, o, risk] {
    if (!risk->get_subcommands().empty()) {
      return;
    }
    if (o->instance.empty()) {
      RunApiCall(
          ctx, [](const ApiClient& api) { return api.Get("/api/v1/risk"); }, PrintRisks);
    } else {
      RunApiCall(
          ctx,
          [&](const ApiClient& api) {
            return api.Get("/api/v1/instances/" + UrlEncode(o->instance) + "/risk");
          },
          PrintRisk);
    }
  });
  CLI::App* report = risk->add_subcommand(
      "report-failure", "Report that an instance failed (the engine learns from it)");
  report->add_option("ID", o->instance, "Instance id")->required();
  report->add_option("--kind", o->kind, "crash, health_check, reported ...")->capture_default_str();
  report->add_option("--reason", o->reason, "What happened")->required();
  report->callback([&ctx, o] {
    nlohmann::json body = {{"kind", o->kind}, {"reason", o->reason}};
    RunApiCall(
        ctx,
        [&](const ApiClient& api) {
          return api.Post("/api/v1/instances/" + UrlEncode(o->instance) +
                              "/failures?author=" + UrlEncode(ctx.author),
                          body.dump(), "application/json");
        },
        [](const nlohmann::json& r) {
          std::cout << "failure of " << Text(r["instance"]) << " recorded\n";
        });
  });

  CLI::App* models = app.add_subcommand("models", "Risk model versions (--retrain: train now)");
  models->add_flag("--retrain", o->retrain, "Train a candidate and promote it if no worse");
  models->callback([&ctx, o] {
    if (o->retrain) {
      RunApiCall(
          ctx,
          [](const ApiClient& api) {
            return api.Post("/api/v1/models/retrain", "", "application/json");
          },
          [](const nlohmann::json& r) { std::cout << r.dump(2) << "\n"; });
      return;
    }
    RunApiCall(
        ctx, [](const ApiClient& api) { return api.Get("/api/v1/models"); },
        [](const nlohmann::json& r) {
          std::cout << "serving: " << Text(r["serving"]) << "; learnt from "
                    << r["stats"].value("failures", 0) << " failures and "
                    << r["stats"].value("examples", 0) << " examples\n";
          Table table({"VERSION", "CREATED", "PROMOTED", "CURRENT", "REASON"});
          for (const nlohmann::json& v : r["versions"]) {
            table.AddRow({Text(v["version"]), Text(v["created"]),
                          v.value("promoted", false) ? "yes" : "no",
                          v.value("current", false) ? "yes" : "no", Text(v["reason"])});
          }
          table.Print(std::cout);
        });
  });
}

}  // namespace shadowfleet

#include "shadowfleet/cli/cli.h"

#include <cstdlib>

#include <CLI/CLI.hpp>

#include "shadowfleet/cli/cli_support.h"
#include "shadowfleet/daemon/daemon.h"
#include "shadowfleet/demo/demo.h"

namespace shadowfleet {
namespace {

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
  CliContext ctx;
  const char* env_server = std::getenv("SHADOWFLEET_SERVER");
  ctx.server = env_server != nullptr ? env_server : "127.0.0.1:7070";
  ctx.author = DefaultAuthor();
  app.add_option("-s,--server", ctx.server, "Daemon address host:port (env SHADOWFLEET_SERVER)")
      ->capture_default_str();
  app.add_option("-o,--output", ctx.output, "Output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();

  std::string config_path;
  CLI::App* serve = app.add_subcommand("serve", "Run the daemon: reconcilers, API and metrics");
  serve->add_option("-c,--config", config_path, "Daemon configuration (kind: Daemon)")->required();
  serve->callback([&] { ctx.exit_code = RunServe(config_path); });

  DemoOptions demo_options;
  CLI::App* demo = app.add_subcommand(
      "demo",
      "Run the whole loop: a local fleet behind HAProxy under load, degradations injected, "
      "failures predicted and preempted");
  demo->add_option("--listen", demo_options.listen, "API address")->capture_default_str();
  demo->add_option("--state-dir", demo_options.state_dir,
                   "Where state and logs go (default: a new temporary directory)");
  demo->add_option("--scenario", demo_options.scenario_file,
                   "Scenario file (kind: Scenario; default: the built-in one)");
  demo->add_option("--seed", demo_options.seed, "Seed for injection times and targets")
      ->capture_default_str();
  demo->add_option("--duration", demo_options.duration_seconds,
                   "Seconds to run (default: the scenario's)");
  demo->add_option("--mode", demo_options.mode, "act: switch over; watch: only watch")
      ->check(CLI::IsMember({"act", "watch"}))
      ->capture_default_str();
  demo->add_option("--report", demo_options.report_file, "Write the JSON report here");
  demo->add_flag("--keep-running", demo_options.keep_running,
                 "Leave the fleet and API up until Ctrl-C");
  demo->add_flag("--quiet", demo_options.quiet, "Print only the summary");
  demo->callback([&] { ctx.exit_code = RunDemo(demo_options); });

  AddFleetCommands(app, ctx);
  AddConfigCommands(app, ctx);
  AddSwitchoverCommands(app, ctx);
  AddLiveRiskCommands(app, ctx);
  AddEvalCommands(app, ctx);
  AddRiskCommands(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  return ctx.exit_code;
}

}  // namespace shadowfleet

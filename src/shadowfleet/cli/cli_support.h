// What every CLI command shares: the global options, connecting to the daemon, and printing
// a result as a table (default) or as JSON (-o json). Commands of each component live in
// their own file and register themselves on the app with an Add...Commands() function.
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "shadowfleet/cli/api_client.h"

namespace shadowfleet {

struct CliContext {
  std::string server;
  std::string output = "table";
  std::string author;
  int exit_code = 0;
};

using ApiCall = std::function<absl::StatusOr<nlohmann::json>(const ApiClient&)>;
using TablePrinter = std::function<void(const nlohmann::json&)>;

// Prints `status` and returns the exit code it maps to (2 bad input, 3 unreachable, else 1).
int Report(const absl::Status& status);

// Connects to the daemon, runs `call` and prints its result as JSON or through `table`;
// stores the exit code in `ctx`.
void RunApiCall(CliContext& ctx, const ApiCall& call, const TablePrinter& table);

// Prints an already computed result the same way; returns the exit code.
int Emit(const CliContext& ctx, const absl::StatusOr<nlohmann::json>& result,
         const TablePrinter& table);

// Table cells: "-" for null, strings bare, floats with one decimal, else compact JSON.
std::string Text(const nlohmann::json& value);
// "1.5s", or "-" for a non-number.
std::string Seconds(const nlohmann::json& value);

// Commands of each component.
void AddFleetCommands(CLI::App& app, CliContext& ctx);
void AddConfigCommands(CLI::App& app, CliContext& ctx);
void AddSwitchoverCommands(CLI::App& app, CliContext& ctx);
void AddLiveRiskCommands(CLI::App& app, CliContext& ctx);
void AddEvalCommands(CLI::App& app, CliContext& ctx);
// Risk-model commands: `eval cmapss` and `eval lanl` under `eval`, `train` and `score`.
void AddRiskEvalCommands(CLI::App& eval, CliContext& ctx);
void AddRiskCommands(CLI::App& app, CliContext& ctx);

}  // namespace shadowfleet

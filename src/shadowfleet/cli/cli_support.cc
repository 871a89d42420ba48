#include "shadowfleet/cli/cli_support.h"

#include <iostream>

#include "absl/strings/str_format.h"

#include "shadowfleet/cli/cli.h"

namespace shadowfleet {

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

int Emit(const CliContext& ctx, const absl::StatusOr<nlohmann::json>& result,
         const TablePrinter& table) {
  if (!result.ok()) {
    return Report(result.status());
  }
  if (ctx.output == "json") {
    std::cout << result->dump(2) << "\n";
  } else {
    table(*result);
  }
  return kExitOk;
}

void RunApiCall(CliContext& ctx, const ApiCall& call, const TablePrinter& table) {
  absl::StatusOr<ApiClient> client = ApiClient::Connect(ctx.server);
  ctx.exit_code = client.ok() ? Emit(ctx, call(*client), table) : Report(client.status());
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

}  // namespace shadowfleet

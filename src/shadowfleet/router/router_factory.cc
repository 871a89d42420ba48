#include "shadowfleet/router/router_factory.h"

#include "absl/strings/str_cat.h"

#include "shadowfleet/router/exec_router.h"
#include "shadowfleet/router/haproxy_router.h"
#include "shadowfleet/router/none_router.h"

namespace shadowfleet {

absl::StatusOr<std::unique_ptr<Router>> MakeRouter(const GroupSpec& group,
                                                   const RouterEnvironment& environment) {
  const RouterSpec& spec = group.router;
  if (spec.name == "none" && std::holds_alternative<NoRouterSettings>(spec.settings)) {
    return std::make_unique<NoneRouter>();
  }
  if (spec.name == "haproxy" && std::holds_alternative<HaproxyRouterSettings>(spec.settings)) {
    const auto& settings = std::get<HaproxyRouterSettings>(spec.settings);
    if (settings.full_weight < 1 || settings.full_weight > 256) {
      return absl::InvalidArgumentError(absl::StrCat(
          "group ", group.name, ": haproxy fullWeight must be 1..256, got ", settings.full_weight));
    }
    if (settings.socket.empty() || settings.backend.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("group ", group.name, ": the haproxy router needs a socket and a backend"));
    }
    return std::make_unique<HaproxyRouter>(settings);
  }
  if (spec.name == "exec" && std::holds_alternative<ExecRouterSettings>(spec.settings)) {
    const auto& settings = std::get<ExecRouterSettings>(spec.settings);
    if (settings.command.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("group ", group.name, ": the exec router needs a command"));
    }
    return std::make_unique<ExecRouter>(group.name, settings, environment);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("group ", group.name, ": unknown router \"", spec.name,
                   "\" or settings of another router (known: haproxy, exec, none)"));
}

}  // namespace shadowfleet

#include "shadowfleet/router/router_set.h"

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/status_macros.h"

namespace shadowfleet {
namespace {

// Everything in a router spec that a router depends on, as one comparable string.
std::string Fingerprint(const RouterSpec& spec) {
  std::string out = spec.name;
  std::visit(
      [&out](const auto& s) {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, HaproxyRouterSettings>) {
          absl::StrAppend(&out, "|", s.socket, "|", s.backend, "|", s.full_weight, "|",
                          s.health_checks, "|", absl::FormatDuration(s.timeout));
        } else if constexpr (std::is_same_v<T, ExecRouterSettings>) {
          for (const auto& part : s.command) {
            absl::StrAppend(&out, "|", part);
          }
          for (const auto& [k, v] : s.env) {
            absl::StrAppend(&out, "|", k, "=", v);
          }
          absl::StrAppend(&out, "|", absl::FormatDuration(s.timeout));
        }
      },
      spec.settings);
  return out;
}

}  // namespace

absl::StatusOr<std::shared_ptr<Router>> RouterSet::For(const GroupSpec& group) {
  std::string fingerprint = Fingerprint(group.router);
  absl::MutexLock lock(&mu_);
  Entry& entry = entries_[group.name];
  if (entry.router != nullptr && (entry.overridden || entry.fingerprint == fingerprint)) {
    return entry.router;
  }
  SF_ASSIGN_OR_RETURN(std::unique_ptr<Router> router, MakeRouter(group, environment_));
  entry.router = std::move(router);
  entry.fingerprint = fingerprint;
  return entry.router;
}

void RouterSet::Override(const std::string& group, std::shared_ptr<Router> router) {
  absl::MutexLock lock(&mu_);
  entries_[group] = Entry{"", std::move(router), true};
}

}  // namespace shadowfleet

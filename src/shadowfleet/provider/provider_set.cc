#include "shadowfleet/provider/provider_set.h"

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/status_macros.h"

namespace shadowfleet {
namespace {

// Everything in a group spec that a provider depends on, as one comparable string.
std::string Fingerprint(const GroupSpec& group) {
  std::string out = group.provider.name;
  std::visit(
      [&out](const auto& s) {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, ProcessProviderSettings>) {
          for (const auto& part : s.command) {
            absl::StrAppend(&out, "|", part);
          }
          for (const auto& [k, v] : s.env) {
            absl::StrAppend(&out, "|", k, "=", v);
          }
          absl::StrAppend(&out, "|", s.work_dir, "|", static_cast<int>(s.on_config_change), "|",
                          s.reload_signal, "|", absl::FormatDuration(s.stop_grace_period));
        } else if constexpr (std::is_same_v<T, SimProviderSettings>) {
          absl::StrAppend(&out, "|", absl::FormatDuration(s.build_delay), "|",
                          absl::FormatDuration(s.apply_delay), "|", s.create_failure_rate, "|",
                          s.apply_failure_rate, "|", s.crash_rate_per_hour, "|",
                          s.data_sync_lag_seconds, "|", s.seed);
        } else {
          for (const auto& part : s.command) {
            absl::StrAppend(&out, "|", part);
          }
          for (const auto& [k, v] : s.env) {
            absl::StrAppend(&out, "|", k, "=", v);
          }
          absl::StrAppend(&out, "|", absl::FormatDuration(s.timeout));
        }
      },
      group.provider.settings);
  absl::StrAppend(&out, "|", group.health_check.path, "|",
                  absl::FormatDuration(group.health_check.timeout));
  for (const VolumeSpec& v : group.volumes) {
    absl::StrAppend(&out, "|", v.name, ":", v.path);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::shared_ptr<Provider>> ProviderSet::For(const GroupSpec& group) {
  std::string fingerprint = Fingerprint(group);
  absl::MutexLock lock(&mu_);
  Entry& entry = entries_[group.name];
  if (entry.provider != nullptr && (entry.overridden || entry.fingerprint == fingerprint)) {
    return entry.provider;
  }
  SF_ASSIGN_OR_RETURN(std::unique_ptr<Provider> provider, MakeProvider(group, environment_));
  entry.provider = std::move(provider);
  entry.fingerprint = fingerprint;
  return entry.provider;
}

void ProviderSet::Override(const std::string& group, std::shared_ptr<Provider> provider) {
  absl::MutexLock lock(&mu_);
  entries_[group] = Entry{"", std::move(provider), true};
}

}  // namespace shadowfleet

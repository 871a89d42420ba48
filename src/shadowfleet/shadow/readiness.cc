#include "shadowfleet/shadow/readiness.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace shadowfleet {

const char* ReadinessReasonName(ReadinessReason reason) {
  switch (reason) {
    case ReadinessReason::kReady:
      return "Ready";
    case ReadinessReason::kNoLive:
      return "NoLive";
    case ReadinessReason::kNoShadow:
      return "NoShadow";
    case ReadinessReason::kBuilding:
      return "Building";
    case ReadinessReason::kApplying:
      return "Applying";
    case ReadinessReason::kBehind:
      return "Behind";
    case ReadinessReason::kUnhealthy:
      return "Unhealthy";
    case ReadinessReason::kFailed:
      return "Failed";
    case ReadinessReason::kDataStale:
      return "DataStale";
    case ReadinessReason::kRemoved:
      return "Removed";
  }
  return "Unknown";
}

nlohmann::json Readiness::ToJson() const {
  return {{"instance", instance_id},
          {"group", group},
          {"ready", ready},
          {"reason", ReadinessReasonName(reason)},
          {"detail", detail},
          {"liveVersion", live_version},
          {"shadowVersion", shadow_version},
          {"targetVersion", target_version},
          {"versionsBehind", versions_behind},
          {"secondsBehind", seconds_behind},
          {"dataLagSeconds", data_lag_seconds}};
}

nlohmann::json FleetReadiness::ToJson() const {
  return {{"liveInstances", live_instances},
          {"readyShadows", ready_shadows},
          {"readyRatio", ready_ratio},
          {"maxVersionsBehind", max_versions_behind},
          {"maxSecondsBehind", max_seconds_behind},
          {"maxDataLagSeconds", max_data_lag_seconds},
          {"byReason", by_reason}};
}

int64_t ShadowTargetVersion(const GroupSpec& group, const InstanceRecord& instance,
                            const VersionHead& head) {
  // A managed live instance must have a version before its shadow gets it ("applied to
  // shadows right after live"); adopted live instances already run every recorded version.
  int64_t live = group.live_mode == LiveMode::kManaged ? instance.live_version : head.version;
  if (group.shadowing.apply == ShadowApplyPolicy::kAfterTested) {
    return std::min(live, head.latest_tested);
  }
  return live;
}

Readiness ComputeReadiness(const InstanceRecord& instance, const ShadowRecord* shadow,
                           const GroupSpec* group, const std::optional<VersionHead>& head,
                           const std::vector<const VolumeStatus*>& volumes, absl::Time now,
                           absl::Time behind_since) {
  Readiness r;
  r.instance_id = instance.id;
  r.group = instance.group;
  r.live_version = group != nullptr && group->live_mode == LiveMode::kAdopted && head
                       ? head->version
                       : instance.live_version;
  r.shadow_version = shadow != nullptr ? shadow->version : 0;
  r.target_version = group != nullptr && head ? ShadowTargetVersion(*group, instance, *head) : 0;
  r.versions_behind = std::max<int64_t>(0, r.live_version - r.shadow_version);
  if (r.versions_behind > 0 && behind_since != absl::InfinitePast()) {
    r.seconds_behind = std::max(0.0, absl::ToDoubleSeconds(now - behind_since));
  }
  for (const VolumeStatus* volume : volumes) {
    bool current =
        shadow != nullptr && shadow->replica && volume->shadow_replica == shadow->replica->id;
    absl::Time since = current ? volume->synced_as_of : absl::InfinitePast();
    if (since == absl::InfinitePast()) {
      // Never copied: the copy is as old as the shadow itself.
      since =
          shadow != nullptr && shadow->replica ? shadow->replica->created_at : instance.created_at;
    }
    double lag = absl::ToDoubleSeconds(now - since);
    r.data_lag_seconds = std::max(r.data_lag_seconds, std::max(0.0, lag));
  }

  auto verdict = [&r](ReadinessReason reason, std::string detail) {
    r.reason = reason;
    r.detail = std::move(detail);
    r.ready = reason == ReadinessReason::kReady;
    return r;
  };
  if (instance.removed || group == nullptr) {
    return verdict(ReadinessReason::kRemoved, "instance is being removed");
  }
  if (!instance.live) {
    return verdict(ReadinessReason::kNoLive, "no live replica yet");
  }
  if (shadow == nullptr || !shadow->replica) {
    std::string detail = shadow != nullptr && !shadow->last_error.empty()
                             ? "not created: " + shadow->last_error
                             : "not created yet";
    return verdict(shadow != nullptr && shadow->phase == ShadowPhase::kFailed
                       ? ReadinessReason::kFailed
                       : ReadinessReason::kNoShadow,
                   detail);
  }
  switch (shadow->phase) {
    case ShadowPhase::kPending:
    case ShadowPhase::kBuilding:
      return verdict(ReadinessReason::kBuilding,
                     absl::StrCat("building at version ", shadow->target_version));
    case ShadowPhase::kApplying:
      return verdict(ReadinessReason::kApplying,
                     absl::StrCat("applying version ", shadow->target_version));
    case ShadowPhase::kUnhealthy:
      return verdict(ReadinessReason::kUnhealthy, "failing health checks: " + shadow->last_error);
    case ShadowPhase::kFailed:
      return verdict(ReadinessReason::kFailed, "failed: " + shadow->last_error);
    case ShadowPhase::kReady:
      break;
  }
  if (shadow->version < r.target_version) {
    return verdict(ReadinessReason::kBehind,
                   absl::StrCat("at version ", shadow->version, ", target ", r.target_version));
  }
  for (const VolumeSpec& spec : group->volumes) {
    auto it = std::find_if(volumes.begin(), volumes.end(),
                           [&](const VolumeStatus* v) { return v->volume == spec.name; });
    const VolumeStatus* volume = it == volumes.end() ? nullptr : *it;
    if (volume == nullptr || volume->shadow_replica != shadow->replica->id ||
        volume->synced_as_of == absl::InfinitePast()) {
      return verdict(ReadinessReason::kDataStale,
                     absl::StrCat("volume ", spec.name, " not copied yet"));
    }
    absl::Duration lag = now - volume->synced_as_of;
    if (lag > spec.max_lag) {
      return verdict(ReadinessReason::kDataStale,
                     absl::StrCat("volume ", spec.name, " is ", absl::FormatDuration(lag),
                                  " behind (max ", absl::FormatDuration(spec.max_lag), ")",
                                  volume->last_error.empty() ? "" : ": " + volume->last_error));
    }
  }
  return verdict(ReadinessReason::kReady, "");
}

std::optional<Readiness> ComputeInstanceReadiness(const FleetState& state,
                                                  const std::string& instance_id, absl::Time now,
                                                  const VersionTimeFn& version_time) {
  Cached<InstanceRecord> instance = state.Instance(instance_id);
  if (!instance) {
    return std::nullopt;
  }
  Cached<ShadowRecord> shadow = state.Shadow(instance_id);
  std::shared_ptr<const GroupSpec> group = state.Group(instance->group);
  std::vector<Cached<VolumeStatus>> held;
  std::vector<const VolumeStatus*> volumes;
  if (group != nullptr) {
    for (const VolumeSpec& spec : group->volumes) {
      if (Cached<VolumeStatus> v = state.Volume(instance_id, spec.name)) {
        volumes.push_back(v.value.get());
        held.push_back(std::move(v));
      }
    }
  }
  std::optional<VersionHead> head = state.Head(instance_id);
  int64_t shadow_version = shadow ? shadow->version : 0;
  absl::Time behind_since = absl::InfinitePast();
  if (version_time && head && head->version > shadow_version) {
    behind_since = version_time(instance_id, shadow_version + 1);
  }
  return ComputeReadiness(*instance, shadow ? shadow.value.get() : nullptr, group.get(), head,
                          volumes, now, behind_since);
}

ReadinessReport ComputeFleetReadiness(const FleetState& state, absl::Time now,
                                      const VersionTimeFn& version_time) {
  ReadinessReport report;
  for (const std::string& id : state.InstanceIds()) {
    std::optional<Readiness> r = ComputeInstanceReadiness(state, id, now, version_time);
    if (!r) {
      continue;
    }
    if (r->reason != ReadinessReason::kRemoved) {
      FleetReadiness& f = report.fleet;
      f.live_instances++;
      f.ready_shadows += r->ready ? 1 : 0;
      f.max_versions_behind = std::max(f.max_versions_behind, r->versions_behind);
      f.max_seconds_behind = std::max(f.max_seconds_behind, r->seconds_behind);
      f.max_data_lag_seconds = std::max(f.max_data_lag_seconds, r->data_lag_seconds);
      f.by_reason[ReadinessReasonName(r->reason)]++;
    }
    report.instances.push_back(std::move(*r));
  }
  FleetReadiness& f = report.fleet;
  f.ready_ratio =
      f.live_instances == 0 ? 1.0 : static_cast<double>(f.ready_shadows) / f.live_instances;
  return report;
}

}  // namespace shadowfleet

#include "shadowfleet/fleet/records.h"

#include "absl/strings/str_cat.h"

namespace shadowfleet {
namespace {

// Decoding runs over data read back from the store; nlohmann's exceptions become a status.
template <typename T, typename F>
absl::StatusOr<T> Decode(const char* what, F&& body) {
  try {
    return body();
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat("malformed stored ", what, ": ", e.what()));
  }
}

template <typename E, size_t N>
E EnumFromName(const std::string& name, const std::pair<std::string_view, E> (&table)[N]) {
  for (const auto& [text, value] : table) {
    if (text == name) {
      return value;
    }
  }
  throw nlohmann::json::other_error::create(501, "unknown enum value " + name, nullptr);
}

constexpr std::pair<std::string_view, LivePhase> kLivePhases[] = {
    {"Pending", LivePhase::kPending}, {"Creating", LivePhase::kCreating},
    {"Running", LivePhase::kRunning}, {"Unhealthy", LivePhase::kUnhealthy},
    {"Lost", LivePhase::kLost},
};

constexpr std::pair<std::string_view, ShadowPhase> kShadowPhases[] = {
    {"Pending", ShadowPhase::kPending},     {"Building", ShadowPhase::kBuilding},
    {"Applying", ShadowPhase::kApplying},   {"Ready", ShadowPhase::kReady},
    {"Unhealthy", ShadowPhase::kUnhealthy}, {"Failed", ShadowPhase::kFailed},
};

template <typename E, size_t N>
const char* NameOf(E value, const std::pair<std::string_view, E> (&table)[N]) {
  for (const auto& [text, v] : table) {
    if (v == value) {
      return text.data();  // The table holds string literals, so data() is terminated.
    }
  }
  return "Unknown";
}

}  // namespace

const char* RoleName(Role role) {
  return role == Role::kLive ? "live" : "shadow";
}
const char* LivePhaseName(LivePhase phase) {
  return NameOf(phase, kLivePhases);
}
const char* ShadowPhaseName(ShadowPhase phase) {
  return NameOf(phase, kShadowPhases);
}

int64_t TimeToJson(absl::Time t) {
  return t == absl::InfinitePast() ? 0 : absl::ToUnixMillis(t);
}

absl::Time TimeFromJson(int64_t ms) {
  return ms == 0 ? absl::InfinitePast() : absl::FromUnixMillis(ms);
}

nlohmann::json TimeToDisplay(absl::Time t) {
  if (t == absl::InfinitePast()) {
    return nullptr;
  }
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

std::string VolumeKey(const std::string& instance_id, const std::string& volume) {
  return absl::StrCat(instance_id, "/", volume);
}

nlohmann::json Replica::ToJson() const {
  return {{"id", id},
          {"providerId", provider_id},
          {"endpoint", endpoint},
          {"providerState", provider_state},
          {"createdAt", TimeToJson(created_at)}};
}

absl::StatusOr<Replica> Replica::FromJson(const nlohmann::json& j) {
  return Decode<Replica>("replica", [&] {
    Replica r;
    r.id = j.at("id").get<std::string>();
    r.provider_id = j.at("providerId").get<std::string>();
    r.endpoint = j.at("endpoint").get<std::string>();
    r.provider_state = j.value("providerState", nlohmann::json::object());
    r.created_at = TimeFromJson(j.at("createdAt").get<int64_t>());
    return r;
  });
}

std::string InstanceRecord::NextReplicaId(Role role) {
  return absl::StrCat(id, role == Role::kLive ? "-l" : "-s", next_replica_number++);
}

nlohmann::json InstanceRecord::ToJson() const {
  nlohmann::json j = {
      {"id", id},
      {"fleet", fleet},
      {"group", group},
      {"index", index},
      {"livePhase", LivePhaseName(live_phase)},
      {"livePhaseSince", TimeToJson(live_phase_since)},
      {"liveVersion", live_version},
      {"liveError", live_error},
      {"liveHealthFailures", live_health_failures},
      {"nextReplicaNumber", next_replica_number},
      {"specGeneration", spec_generation},
      {"createdAt", TimeToJson(created_at)},
      {"lastRefreshed", TimeToJson(last_refreshed)},
      {"removed", removed},
      {"activeSwitchover", active_switchover},
  };
  j["live"] = live ? live->ToJson() : nlohmann::json(nullptr);
  j["riskScore"] = risk_score ? nlohmann::json(*risk_score) : nlohmann::json(nullptr);
  return j;
}

absl::StatusOr<InstanceRecord> InstanceRecord::FromJson(const nlohmann::json& j) {
  absl::StatusOr<std::optional<Replica>> live = std::optional<Replica>();
  if (j.contains("live") && !j["live"].is_null()) {
    absl::StatusOr<Replica> r = Replica::FromJson(j["live"]);
    if (!r.ok()) {
      return r.status();
    }
    live = std::move(*r);
  }
  return Decode<InstanceRecord>("instance", [&] {
    InstanceRecord r;
    r.id = j.at("id").get<std::string>();
    r.fleet = j.at("fleet").get<std::string>();
    r.group = j.at("group").get<std::string>();
    r.index = j.at("index").get<int>();
    r.live = *live;
    r.live_phase = EnumFromName(j.at("livePhase").get<std::string>(), kLivePhases);
    r.live_phase_since = TimeFromJson(j.value("livePhaseSince", int64_t{0}));
    r.live_version = j.at("liveVersion").get<int64_t>();
    r.live_error = j.value("liveError", "");
    r.live_health_failures = j.value("liveHealthFailures", 0);
    r.next_replica_number = j.at("nextReplicaNumber").get<int64_t>();
    r.spec_generation = j.value("specGeneration", int64_t{0});
    r.created_at = TimeFromJson(j.at("createdAt").get<int64_t>());
    r.last_refreshed = TimeFromJson(j.at("lastRefreshed").get<int64_t>());
    if (j.contains("riskScore") && !j["riskScore"].is_null()) {
      r.risk_score = j["riskScore"].get<double>();
    }
    r.removed = j.value("removed", false);
    r.active_switchover = j.value("activeSwitchover", "");
    return r;
  });
}

nlohmann::json ShadowRecord::ToJson() const {
  nlohmann::json j = {
      {"instance", instance_id},
      {"phase", ShadowPhaseName(phase)},
      {"version", version},
      {"targetVersion", target_version},
      {"lastError", last_error},
      {"failures", failures},
      {"nextAttemptAt", TimeToJson(next_attempt_at)},
      {"healthFailures", health_failures},
      {"unhealthySince", TimeToJson(unhealthy_since)},
      {"phaseSince", TimeToJson(phase_since)},
      {"lastHealthCheck", TimeToJson(last_health_check)},
      {"replacements", replacements},
  };
  j["replica"] = replica ? replica->ToJson() : nlohmann::json(nullptr);
  return j;
}

absl::StatusOr<ShadowRecord> ShadowRecord::FromJson(const nlohmann::json& j) {
  absl::StatusOr<std::optional<Replica>> replica = std::optional<Replica>();
  if (j.contains("replica") && !j["replica"].is_null()) {
    absl::StatusOr<Replica> r = Replica::FromJson(j["replica"]);
    if (!r.ok()) {
      return r.status();
    }
    replica = std::move(*r);
  }
  return Decode<ShadowRecord>("shadow", [&] {
    ShadowRecord r;
    r.instance_id = j.at("instance").get<std::string>();
    r.replica = *replica;
    r.phase = EnumFromName(j.at("phase").get<std::string>(), kShadowPhases);
    r.version = j.at("version").get<int64_t>();
    r.target_version = j.at("targetVersion").get<int64_t>();
    r.last_error = j.value("lastError", "");
    r.failures = j.value("failures", 0);
    r.next_attempt_at = TimeFromJson(j.value("nextAttemptAt", int64_t{0}));
    r.health_failures = j.value("healthFailures", 0);
    r.unhealthy_since = TimeFromJson(j.value("unhealthySince", int64_t{0}));
    r.phase_since = TimeFromJson(j.value("phaseSince", int64_t{0}));
    r.last_health_check = TimeFromJson(j.value("lastHealthCheck", int64_t{0}));
    r.replacements = j.value("replacements", int64_t{0});
    return r;
  });
}

nlohmann::json VolumeStatus::ToJson() const {
  return {{"instance", instance_id},
          {"volume", volume},
          {"shadowReplica", shadow_replica},
          {"syncedAsOf", TimeToJson(synced_as_of)},
          {"lastAttempt", TimeToJson(last_attempt)},
          {"lastError", last_error},
          {"filesCopied", files_copied},
          {"bytesCopied", bytes_copied}};
}

absl::StatusOr<VolumeStatus> VolumeStatus::FromJson(const nlohmann::json& j) {
  return Decode<VolumeStatus>("volume status", [&] {
    VolumeStatus v;
    v.instance_id = j.at("instance").get<std::string>();
    v.volume = j.at("volume").get<std::string>();
    v.shadow_replica = j.value("shadowReplica", "");
    v.synced_as_of = TimeFromJson(j.at("syncedAsOf").get<int64_t>());
    v.last_attempt = TimeFromJson(j.at("lastAttempt").get<int64_t>());
    v.last_error = j.value("lastError", "");
    v.files_copied = j.value("filesCopied", int64_t{0});
    v.bytes_copied = j.value("bytesCopied", int64_t{0});
    return v;
  });
}

}  // namespace shadowfleet

#include "shadowfleet/switchover/switchover_record.h"

#include "absl/strings/str_cat.h"

namespace shadowfleet {
namespace {

template <typename E, size_t N>
const char* NameIn(E value, const std::pair<const char*, E> (&table)[N]) {
  for (const auto& [name, v] : table) {
    if (v == value) {
      return name;
    }
  }
  return "unknown";
}

template <typename E, size_t N>
std::optional<E> ParseIn(const std::string& name, const std::pair<const char*, E> (&table)[N]) {
  for (const auto& [n, v] : table) {
    if (name == n) {
      return v;
    }
  }
  return std::nullopt;
}

constexpr std::pair<const char*, SwitchoverPhase> kPhases[] = {
    {"Pending", SwitchoverPhase::kPending},       {"Preparing", SwitchoverPhase::kPreparing},
    {"Stepping", SwitchoverPhase::kStepping},     {"Paused", SwitchoverPhase::kPaused},
    {"Baking", SwitchoverPhase::kBaking},         {"Retiring", SwitchoverPhase::kRetiring},
    {"Complete", SwitchoverPhase::kComplete},     {"RollingBack", SwitchoverPhase::kRollingBack},
    {"RolledBack", SwitchoverPhase::kRolledBack},
};

constexpr std::pair<const char*, SwitchoverTrigger> kTriggers[] = {
    {"manual", SwitchoverTrigger::kManual},
    {"risk", SwitchoverTrigger::kRisk},
    {"fleet-refresh", SwitchoverTrigger::kFleetRefresh},
    {"failover", SwitchoverTrigger::kFailover},
};

constexpr std::pair<const char*, OperatorAction> kActions[] = {
    {"pause", OperatorAction::kPause},
    {"resume", OperatorAction::kResume},
    {"promote", OperatorAction::kPromote},
    {"abort", OperatorAction::kAbort},
};

Judgement JudgementFromJson(const nlohmann::json& j) {
  Judgement out;
  std::string verdict = j.value("verdict", "inconclusive");
  out.verdict = verdict == "pass"   ? Verdict::kPass
                : verdict == "fail" ? Verdict::kFail
                                    : Verdict::kInconclusive;
  out.reason = j.value("reason", "");
  out.old_samples = j.value("oldSamples", 0);
  out.new_samples = j.value("newSamples", 0);
  out.old_error_rate = j.value("oldErrorRate", 0.0);
  out.new_error_rate = j.value("newErrorRate", 0.0);
  out.old_latency_mean = j.value("oldLatencyMean", 0.0);
  out.new_latency_mean = j.value("newLatencyMean", 0.0);
  out.latency_p_value = j.value("latencyPValue", 1.0);
  out.error_p_value = j.value("errorPValue", 1.0);
  out.variance_ratio = j.value("varianceRatio", 1.0);
  return out;
}

}  // namespace

const char* SwitchoverPhaseName(SwitchoverPhase phase) {
  return NameIn(phase, kPhases);
}

bool IsTerminal(SwitchoverPhase phase) {
  return phase == SwitchoverPhase::kComplete || phase == SwitchoverPhase::kRolledBack;
}

const char* SwitchoverTriggerName(SwitchoverTrigger trigger) {
  return NameIn(trigger, kTriggers);
}

std::optional<SwitchoverTrigger> ParseSwitchoverTrigger(const std::string& name) {
  return ParseIn(name, kTriggers);
}

const char* OperatorActionName(OperatorAction action) {
  return NameIn(action, kActions);
}

std::optional<OperatorAction> ParseOperatorAction(const std::string& name) {
  return ParseIn(name, kActions);
}

nlohmann::json SwitchoverRecord::ToJson() const {
  nlohmann::json judged = nlohmann::json::array();
  for (const JudgementRecord& r : judgements) {
    nlohmann::json item = r.judgement.ToJson();
    item["step"] = r.step;
    item["weight"] = r.weight;
    item["at"] = TimeToJson(r.at);
    judged.push_back(std::move(item));
  }
  nlohmann::json j = {
      {"id", id},
      {"instance", instance_id},
      {"group", group},
      {"trigger", SwitchoverTriggerName(trigger)},
      {"requestedBy", requested_by},
      {"reason", reason},
      {"decision", decision},
      {"strategy", strategy == SwitchoverSpec::Strategy::kCanary ? "canary" : "blueGreen"},
      {"phase", SwitchoverPhaseName(phase)},
      {"createdAt", TimeToJson(created_at)},
      {"phaseSince", TimeToJson(phase_since)},
      {"deadline", deadline == absl::InfiniteFuture() ? 0 : TimeToJson(deadline)},
      {"stepStartedAt", TimeToJson(step_started_at)},
      {"bakeUntil", TimeToJson(bake_until)},
      {"step", step},
      {"weight", weight},
      {"version", version},
      {"failedJudgements", failed_judgements},
      {"judgements", judged},
      {"outcome", outcome},
      {"actionActor", action_actor},
      {"actionReason", action_reason},
  };
  j["oldReplica"] = old_replica ? old_replica->ToJson() : nlohmann::json(nullptr);
  j["newReplica"] = new_replica ? new_replica->ToJson() : nlohmann::json(nullptr);
  j["requestedAction"] =
      requested_action ? nlohmann::json(OperatorActionName(*requested_action)) : nullptr;
  return j;
}

absl::StatusOr<SwitchoverRecord> SwitchoverRecord::FromJson(const nlohmann::json& j) {
  SwitchoverRecord r;
  try {
    r.id = j.at("id").get<std::string>();
    r.instance_id = j.at("instance").get<std::string>();
    r.group = j.value("group", "");
    r.trigger =
        ParseSwitchoverTrigger(j.value("trigger", "manual")).value_or(SwitchoverTrigger::kManual);
    r.requested_by = j.value("requestedBy", "");
    r.reason = j.value("reason", "");
    r.decision = j.value("decision", nlohmann::json::object());
    r.strategy = j.value("strategy", "canary") == std::string("blueGreen")
                     ? SwitchoverSpec::Strategy::kBlueGreen
                     : SwitchoverSpec::Strategy::kCanary;
    std::optional<SwitchoverPhase> phase = ParseIn(j.at("phase").get<std::string>(), kPhases);
    if (!phase) {
      return absl::DataLossError("switchover " + r.id + " has an unknown phase");
    }
    r.phase = *phase;
    r.created_at = TimeFromJson(j.value("createdAt", int64_t{0}));
    r.phase_since = TimeFromJson(j.value("phaseSince", int64_t{0}));
    int64_t deadline = j.value("deadline", int64_t{0});
    r.deadline = deadline == 0 ? absl::InfiniteFuture() : absl::FromUnixMillis(deadline);
    r.step_started_at = TimeFromJson(j.value("stepStartedAt", int64_t{0}));
    r.bake_until = TimeFromJson(j.value("bakeUntil", int64_t{0}));
    r.step = j.value("step", 0);
    r.weight = j.value("weight", 0);
    r.version = j.value("version", int64_t{0});
    r.failed_judgements = j.value("failedJudgements", 0);
    for (const nlohmann::json& item : j.value("judgements", nlohmann::json::array())) {
      r.judgements.push_back({item.value("step", 0), item.value("weight", 0),
                              TimeFromJson(item.value("at", int64_t{0})), JudgementFromJson(item)});
    }
    r.outcome = j.value("outcome", "");
    r.action_actor = j.value("actionActor", "");
    r.action_reason = j.value("actionReason", "");
    if (j.contains("requestedAction") && j["requestedAction"].is_string()) {
      r.requested_action = ParseIn(j["requestedAction"].get<std::string>(), kActions);
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat("malformed stored switchover: ", e.what()));
  }
  for (const char* key : {"oldReplica", "newReplica"}) {
    if (j.contains(key) && j[key].is_object()) {
      absl::StatusOr<Replica> replica = Replica::FromJson(j[key]);
      if (!replica.ok()) {
        return replica.status();
      }
      (std::string(key) == "oldReplica" ? r.old_replica : r.new_replica) = *replica;
    }
  }
  return r;
}

}  // namespace shadowfleet

// A switchover as stored: the state machine that moves one instance's traffic from its live
// replica to its shadow, persisted at every transition so that a restarted daemon resumes or
// rolls back every switchover from exactly where it was.
//
//   Pending -> Preparing -> Stepping (canary step k at weight w, analysed) -> ... ->
//   Baking (100 %) -> Retiring (old replica drained and removed) -> Complete
//   any active phase -> RollingBack -> RolledBack      (judged worse, deadline, operator)
//   Stepping <-> Paused                                 (inconclusive judgement, operator)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include <nlohmann/json.hpp>

#include "shadowfleet/fleet/records.h"
#include "shadowfleet/spec/fleet_spec.h"
#include "shadowfleet/switchover/judge.h"

namespace shadowfleet {

enum class SwitchoverPhase {
  kPending,
  kPreparing,
  kStepping,
  kPaused,
  kBaking,
  kRetiring,
  kComplete,
  kRollingBack,
  kRolledBack,
};
const char* SwitchoverPhaseName(SwitchoverPhase phase);
bool IsTerminal(SwitchoverPhase phase);

enum class SwitchoverTrigger {
  kManual,        // An operator asked for it.
  kRisk,          // The risk score passed the threshold with the shadow ready.
  kFleetRefresh,  // A fleet-wide refresh, paced by the disruption budget.
  kFailover,      // Live was lost: the shadow takes over at once.
};
const char* SwitchoverTriggerName(SwitchoverTrigger trigger);
std::optional<SwitchoverTrigger> ParseSwitchoverTrigger(const std::string& name);

enum class OperatorAction { kPause, kResume, kPromote, kAbort };
const char* OperatorActionName(OperatorAction action);
std::optional<OperatorAction> ParseOperatorAction(const std::string& name);

struct JudgementRecord {
  int step = 0;
  int weight = 0;
  absl::Time at = absl::InfinitePast();
  Judgement judgement;
};

struct SwitchoverRecord {
  std::string id;
  std::string instance_id;
  std::string group;
  SwitchoverTrigger trigger = SwitchoverTrigger::kManual;
  std::string requested_by;
  std::string reason;
  nlohmann::json decision = nlohmann::json::object();  // What drove it: risk, factors ...
  SwitchoverSpec::Strategy strategy = SwitchoverSpec::Strategy::kCanary;
  SwitchoverPhase phase = SwitchoverPhase::kPending;
  absl::Time created_at = absl::InfinitePast();
  absl::Time phase_since = absl::InfinitePast();
  absl::Time deadline = absl::InfiniteFuture();
  absl::Time step_started_at = absl::InfinitePast();
  absl::Time bake_until = absl::InfinitePast();
  int step = 0;    // Canary step number, from 1.
  int weight = 0;  // The new replica's share of the instance's traffic, in percent.
  std::optional<Replica> old_replica;  // Live when the switchover began.
  std::optional<Replica> new_replica;  // The shadow taking over.
  int64_t version = 0;                 // The configuration version both run.
  int failed_judgements = 0;
  std::vector<JudgementRecord> judgements;
  std::string outcome;  // Why it completed or rolled back.
  // An operator's request, consumed by the controller on its next pass.
  std::optional<OperatorAction> requested_action;
  std::string action_actor;
  std::string action_reason;

  nlohmann::json ToJson() const;
  static absl::StatusOr<SwitchoverRecord> FromJson(const nlohmann::json& j);
};

inline constexpr char kSwitchoverObject[] = "switchover";

}  // namespace shadowfleet

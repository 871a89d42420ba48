// Applying fleet specs: validation, then one atomic write of each changed fleet (with a copy
// kept per generation, so that every instance can be moved from the generation it was built
// from to the current one by a delta). Instances and their configuration versions follow
// from the stored spec through the live manager's reconcile loop, so an apply is never half
// done: either the spec is stored, or nothing is.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include <nlohmann/json.hpp>

#include "shadowfleet/common/clock.h"
#include "shadowfleet/fleet/fleet_state.h"
#include "shadowfleet/spec/yaml_decoder.h"

namespace shadowfleet {

struct FleetApplyOutcome {
  std::string name;
  int64_t generation = 0;
  bool changed = false;
  int instances = 0;  // Desired instances of managed groups.
};

struct ApplyResult {
  std::vector<FleetApplyOutcome> fleets;
  nlohmann::json ToJson() const;
};

// Parses `text` (file name `file` for messages) and stores every fleet that changed. On a
// parse error returns INVALID_ARGUMENT and fills `errors`; nothing is written.
absl::StatusOr<ApplyResult> ApplyFleetSpecs(FleetState& state, Clock& clock,
                                            const std::string& text, const std::string& file,
                                            const std::string& author,
                                            std::vector<SpecError>* errors = nullptr);

}  // namespace shadowfleet

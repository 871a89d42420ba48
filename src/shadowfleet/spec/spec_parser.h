// Reading fleet specs from YAML (or JSON, which is YAML too). Parsing is all-or-nothing: any
// error rejects the whole input, so that nothing is applied from an invalid spec.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "shadowfleet/spec/fleet_spec.h"
#include "shadowfleet/spec/yaml_decoder.h"

namespace shadowfleet {

// Parses every `kind: Fleet` document in `text`. `file` names the source in error messages.
// On failure returns INVALID_ARGUMENT whose message lists every error, one per line, as
// "file:line:column: field.path: what is wrong"; the same errors are stored in `errors` when
// it is not null.
absl::StatusOr<std::vector<FleetSpec>> ParseFleetSpecs(const std::string& text,
                                                       const std::string& file,
                                                       std::vector<SpecError>* errors = nullptr);

// Checks rules that span several fleets: group names are unique across all of them (instance
// ids are derived from group names).
absl::Status ValidateFleetSet(const std::vector<FleetSpec>& fleets);

}  // namespace shadowfleet

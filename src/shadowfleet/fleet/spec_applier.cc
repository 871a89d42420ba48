#include "shadowfleet/fleet/spec_applier.h"

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/logging.h"
#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/spec/spec_parser.h"

namespace shadowfleet {
namespace {

// Re-serialises one fleet's document out of a multi-document input, so that the stored
// source of each fleet holds exactly that fleet.
std::string SourceOf(const std::string& text, const std::string& fleet_name) {
  YamlDecoder ignored("");
  for (const YAML::Node& doc : LoadYamlDocuments(text, ignored)) {
    if (doc.IsMap() && doc["metadata"] && doc["metadata"]["name"] &&
        doc["metadata"]["name"].Scalar() == fleet_name) {
      YAML::Emitter out;
      out << doc;
      return std::string(out.c_str()) + "\n";
    }
  }
  return text;
}

}  // namespace

nlohmann::json ApplyResult::ToJson() const {
  nlohmann::json out = nlohmann::json::array();
  for (const FleetApplyOutcome& f : fleets) {
    out.push_back({{"name", f.name},
                   {"generation", f.generation},
                   {"changed", f.changed},
                   {"instances", f.instances}});
  }
  return {{"fleets", out}};
}

absl::StatusOr<ApplyResult> ApplyFleetSpecs(FleetState& state, Clock& clock,
                                            const std::string& text, const std::string& file,
                                            const std::string& author,
                                            std::vector<SpecError>* errors) {
  SF_ASSIGN_OR_RETURN(std::vector<FleetSpec> specs, ParseFleetSpecs(text, file, errors));

  // Group names must stay unique across the new specs and every other stored fleet.
  std::vector<FleetSpec> all = specs;
  for (const Cached<StoredFleet>& stored : state.Fleets()) {
    bool replaced = false;
    for (const FleetSpec& spec : specs) {
      replaced = replaced || spec.name == stored->name;
    }
    if (!replaced) {
      all.push_back(stored->spec);
    }
  }
  if (absl::Status status = ValidateFleetSet(all); !status.ok()) {
    if (errors != nullptr) {
      errors->push_back({file, 0, 0, "", std::string(status.message())});
    }
    return status;
  }

  ApplyResult result;
  StateBatch batch;
  absl::Time now = clock.Now();
  for (const FleetSpec& spec : specs) {
    FleetApplyOutcome outcome;
    outcome.name = spec.name;
    for (const GroupSpec& group : spec.groups) {
      outcome.instances += group.live_mode == LiveMode::kManaged ? group.replicas : 0;
    }
    Cached<StoredFleet> current = state.Fleet(spec.name);
    std::string source = SourceOf(text, spec.name);
    if (current && current->source == source) {
      outcome.generation = current->generation;
      result.fleets.push_back(outcome);
      continue;
    }
    StoredFleet next;
    next.name = spec.name;
    next.source = source;
    next.generation = current ? current->generation + 1 : 1;
    next.applied_at = now;
    next.applied_by = author;
    next.spec = spec;
    batch.PutFleet(next, current ? current.revision : kMustNotExist);
    batch.PutFleetGeneration(next);
    batch.AddEvent({0, absl::ToUnixMillis(now), "fleet.applied", spec.name, author,
                    absl::StrCat("fleet ", spec.name, " generation ", next.generation),
                    nlohmann::json{{"generation", next.generation}}.dump()});
    outcome.generation = next.generation;
    outcome.changed = true;
    result.fleets.push_back(outcome);
    Logger("fleet")->info("fleet applied fleet={} generation={} author={}", spec.name,
                          next.generation, author);
  }
  if (batch.empty()) {
    return result;
  }
  SF_RETURN_IF_ERROR(state.Commit(batch).status());
  return result;
}

}  // namespace shadowfleet

#include "shadowfleet/fleet/spec_applier.h"

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/logging.h"
#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/spec/spec_parser.h"

namespace shadowfleet {
namespace {

// The text of the document in `text` that declares `fleet_name`, exactly as written (with its
// comments and quoting), so that the stored source parses back to the same values. Documents
// are separated by "---" lines.
std::string SourceOf(const std::string& text, const std::string& fleet_name) {
  std::vector<std::string> documents(1);
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    std::string line = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    bool separator = line.rfind("---", 0) == 0 &&
                     (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
    if (separator) {
      documents.emplace_back();
    } else {
      documents.back() += line + "\n";
    }
    if (end == std::string::npos) {
      break;
    }
    pos = end + 1;
  }
  for (const std::string& document : documents) {
    try {
      YAML::Node node = YAML::Load(document);
      if (node.IsMap() && node["metadata"] && node["metadata"].IsMap() &&
          node["metadata"]["name"] && node["metadata"]["name"].IsScalar() &&
          node["metadata"]["name"].Scalar() == fleet_name) {
        return document;
      }
    } catch (const YAML::Exception&) {
      // A fragment that only parses as part of the whole input; handled below.
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

#include "shadowfleet/api/fleet_service.h"

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/fleet/spec_applier.h"
#include "shadowfleet/shadow/readiness.h"

namespace shadowfleet {
namespace {

constexpr int kMaxHistory = 10'000;

absl::Status Invalid(const std::string& field, const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

nlohmann::json ReplicaSummary(const std::optional<Replica>& replica) {
  if (!replica) {
    return nullptr;
  }
  return {{"replica", replica->id},
          {"providerId", replica->provider_id},
          {"endpoint", replica->endpoint},
          {"createdAt", TimeToDisplay(replica->created_at)}};
}

}  // namespace

absl::StatusOr<ChangeRequest> ChangeRequest::FromJson(const nlohmann::json& body) {
  if (!body.is_object()) {
    return absl::InvalidArgumentError("the request body must be a JSON object");
  }
  static const std::set<std::string> kKnown = {"instances", "group",  "patch", "merge",
                                               "set",       "author", "reason"};
  for (const auto& [key, value] : body.items()) {
    if (kKnown.count(key) == 0) {
      return Invalid(key,
                     "unknown field (allowed: instances, group, patch, merge, set, "
                     "author, reason)");
    }
  }
  ChangeRequest request;
  if (body.contains("instances")) {
    if (!body["instances"].is_array()) {
      return Invalid("instances", "must be a list of instance ids");
    }
    for (const nlohmann::json& id : body["instances"]) {
      if (!id.is_string() || id.get<std::string>().empty()) {
        return Invalid("instances", "every entry must be a non-empty string");
      }
      request.instances.push_back(id.get<std::string>());
    }
  }
  if (body.contains("group")) {
    if (!body["group"].is_string()) {
      return Invalid("group", "must be a string");
    }
    request.group = body["group"].get<std::string>();
  }
  if (request.instances.empty() == request.group.empty()) {
    return absl::InvalidArgumentError("name either instances or a group");
  }
  int forms = 0;
  if (body.contains("patch")) {
    forms++;
    if (!body["patch"].is_array() || body["patch"].empty()) {
      return Invalid("patch", "must be a non-empty list of RFC 6902 operations");
    }
    request.patch = body["patch"];
  }
  if (body.contains("merge")) {
    forms++;
    if (!body["merge"].is_object()) {
      return Invalid("merge", "must be a JSON object (RFC 7386 merge patch)");
    }
    request.merge = body["merge"];
  }
  if (body.contains("set")) {
    forms++;
    if (!body["set"].is_object() || body["set"].empty()) {
      return Invalid("set", "must be an object of JSON pointer -> value");
    }
    for (const auto& [pointer, value] : body["set"].items()) {
      if (pointer.empty() || pointer[0] != '/') {
        return Invalid("set", "\"" + pointer + "\" is not a JSON pointer (it must start with /)");
      }
      request.set[pointer] = value;
    }
  }
  if (forms != 1) {
    return absl::InvalidArgumentError("give exactly one of patch, merge or set");
  }
  for (const char* key : {"author", "reason"}) {
    if (body.contains(key) && !body[key].is_string()) {
      return Invalid(key, "must be a string");
    }
  }
  request.author = body.value("author", "");
  request.reason = body.value("reason", "");
  if (request.author.empty()) {
    return Invalid("author", "who made the change is required");
  }
  return request;
}

FleetService::FleetService(FleetState* state, Ledger* ledger, Store* store, Clock* clock,
                           Metrics* metrics, std::function<void()> nudge)
    : state_(state),
      ledger_(ledger),
      store_(store),
      clock_(clock),
      metrics_(metrics),
      nudge_(std::move(nudge)) {}

absl::StatusOr<nlohmann::json> FleetService::Apply(const std::string& text, const std::string& file,
                                                   const std::string& author,
                                                   std::vector<SpecError>* errors) {
  SF_RETURN_IF_ERROR(state_->Sync());
  absl::StatusOr<ApplyResult> result =
      ApplyFleetSpecs(*state_, *clock_, text, file, author, errors);
  if (!result.ok()) {
    if (metrics_ != nullptr && absl::IsInvalidArgument(result.status())) {
      metrics_->SpecRejected().Increment();
    }
    return result.status();
  }
  if (nudge_) {
    nudge_();
  }
  return result->ToJson();
}

absl::StatusOr<nlohmann::json> FleetService::Status() {
  nlohmann::json out = status_ ? status_() : nlohmann::json::object();
  SF_ASSIGN_OR_RETURN(out["storeRevision"], store_->CurrentRevision());
  out["instances"] = state_->instance_count();
  return out;
}

absl::StatusOr<nlohmann::json> FleetService::Fleets() {
  nlohmann::json out = nlohmann::json::array();
  for (const Cached<StoredFleet>& fleet : state_->Fleets()) {
    nlohmann::json groups = nlohmann::json::array();
    for (const GroupSpec& group : fleet->spec.groups) {
      groups.push_back(
          {{"name", group.name}, {"replicas", group.replicas}, {"provider", group.provider.name}});
    }
    out.push_back({{"name", fleet->name},
                   {"generation", fleet->generation},
                   {"appliedAt", TimeToDisplay(fleet->applied_at)},
                   {"appliedBy", fleet->applied_by},
                   {"groups", groups},
                   {"source", fleet->source}});
  }
  return out;
}

absl::StatusOr<nlohmann::json> FleetService::DeleteFleet(const std::string& name,
                                                         const std::string& author) {
  SF_RETURN_IF_ERROR(state_->Sync());
  Cached<StoredFleet> fleet = state_->Fleet(name);
  if (!fleet) {
    return absl::NotFoundError(absl::StrCat("no fleet \"", name, "\""));
  }
  StateBatch batch;
  batch.DeleteFleet(name, fleet.revision);
  batch.AddEvent({0, absl::ToUnixMillis(clock_->Now()), "fleet.deleted", name, author,
                  absl::StrCat("fleet ", name, " deleted"), "{}"});
  SF_RETURN_IF_ERROR(state_->Commit(batch).status());
  if (nudge_) {
    nudge_();
  }
  return nlohmann::json{{"name", name}, {"deleted", true}};
}

absl::Time FleetService::VersionTime(const std::string& id, int64_t version) {
  absl::StatusOr<VersionInfo> info = ledger_->Info(id, version);
  return info.ok() ? info->created_at : absl::InfinitePast();
}

nlohmann::json FleetService::Metadata(const InstanceRecord& instance) {
  // The stack as live actually runs it: the newest version, not the spec it started from.
  nlohmann::json document = nlohmann::json::object();
  if (std::optional<VersionHead> head = state_->Head(instance.id)) {
    absl::StatusOr<nlohmann::json> latest = ledger_->Document(instance.id, head->version);
    if (latest.ok()) {
      document = *std::move(latest);
    }
  }
  nlohmann::json software = nlohmann::json::array();
  nlohmann::json stack = document.value("software", nlohmann::json::object());
  for (const auto& [name, version] : stack.items()) {
    software.push_back({{"name", name}, {"version", version}});
  }
  nlohmann::json volumes = nlohmann::json::array();
  if (std::shared_ptr<const GroupSpec> group = state_->Group(instance.group)) {
    for (const VolumeSpec& volume : group->volumes) {
      volumes.push_back({{"name", volume.name}, {"path", volume.path}});
    }
  }
  nlohmann::json risk = instance.risk_score ? nlohmann::json(*instance.risk_score) : nullptr;
  return {{"instanceId", instance.id},
          {"instanceType", document.value("instanceType", "")},
          {"os", document.value("os", nlohmann::json::object())},
          {"softwareStack", software},
          {"dataVolumes", volumes},
          {"lastRefreshed", TimeToDisplay(instance.last_refreshed)},
          {"riskScore", risk}};
}

nlohmann::json FleetService::Summary(const InstanceRecord& instance) {
  Cached<ShadowRecord> shadow = state_->Shadow(instance.id);
  std::optional<Readiness> readiness = ComputeInstanceReadiness(
      *state_, instance.id, clock_->Now(),
      [this](const std::string& id, int64_t v) { return VersionTime(id, v); });
  nlohmann::json out = {
      {"id", instance.id},
      {"fleet", instance.fleet},
      {"group", instance.group},
      {"live", ReplicaSummary(instance.live)},
      {"livePhase", LivePhaseName(instance.live_phase)},
      {"liveVersion", instance.live_version},
      {"shadow", shadow ? ReplicaSummary(shadow->replica) : nlohmann::json(nullptr)},
      {"shadowPhase", shadow ? ShadowPhaseName(shadow->phase) : "Pending"},
      {"shadowVersion", shadow ? shadow->version : 0},
      {"removed", instance.removed},
      {"riskScore",
       instance.risk_score ? nlohmann::json(*instance.risk_score) : nlohmann::json(nullptr)},
  };
  if (readiness) {
    out["readiness"] = readiness->ToJson();
  }
  return out;
}

absl::StatusOr<nlohmann::json> FleetService::Instances() {
  nlohmann::json out = nlohmann::json::array();
  for (const std::string& id : state_->InstanceIds()) {
    if (Cached<InstanceRecord> instance = state_->Instance(id)) {
      out.push_back(Summary(*instance));
    }
  }
  return out;
}

absl::StatusOr<Cached<InstanceRecord>> FleetService::FindInstance(const std::string& id) {
  Cached<InstanceRecord> instance = state_->Instance(id);
  if (!instance) {
    // Another daemon may have created it since this one last synced.
    SF_RETURN_IF_ERROR(state_->Sync());
    instance = state_->Instance(id);
  }
  if (!instance) {
    return absl::NotFoundError(absl::StrCat("no instance \"", id, "\""));
  }
  return instance;
}

absl::StatusOr<nlohmann::json> FleetService::Instance(const std::string& id) {
  SF_ASSIGN_OR_RETURN(Cached<InstanceRecord> instance, FindInstance(id));
  nlohmann::json out = Summary(*instance);
  out["metadata"] = Metadata(*instance);
  out["record"] = instance->ToJson();
  Cached<ShadowRecord> shadow = state_->Shadow(id);
  out["shadowRecord"] = shadow ? shadow->ToJson() : nlohmann::json(nullptr);
  nlohmann::json volumes = nlohmann::json::array();
  if (std::shared_ptr<const GroupSpec> group = state_->Group(instance->group)) {
    for (const VolumeSpec& spec : group->volumes) {
      nlohmann::json v = {{"name", spec.name},
                          {"maxLagSeconds", absl::ToDoubleSeconds(spec.max_lag)}};
      if (Cached<VolumeStatus> status = state_->Volume(id, spec.name)) {
        v["syncedAsOf"] = TimeToDisplay(status->synced_as_of);
        v["lastError"] = status->last_error;
        v["shadowReplica"] = status->shadow_replica;
      }
      volumes.push_back(v);
    }
  }
  out["volumes"] = volumes;
  EventQuery query;
  query.subject = id;
  query.limit = 20;
  SF_ASSIGN_OR_RETURN(nlohmann::json events, Events(query));
  out["events"] = events;
  return out;
}

absl::StatusOr<nlohmann::json> FleetService::GetReadiness() {
  ReadinessReport report = ComputeFleetReadiness(
      *state_, clock_->Now(),
      [this](const std::string& id, int64_t v) { return VersionTime(id, v); });
  nlohmann::json instances = nlohmann::json::array();
  for (const Readiness& r : report.instances) {
    instances.push_back(r.ToJson());
  }
  return nlohmann::json{{"fleet", report.fleet.ToJson()}, {"instances", instances}};
}

absl::StatusOr<nlohmann::json> FleetService::GetInstanceReadiness(const std::string& id) {
  SF_RETURN_IF_ERROR(FindInstance(id).status());
  std::optional<Readiness> r = ComputeInstanceReadiness(
      *state_, id, clock_->Now(),
      [this](const std::string& i, int64_t v) { return VersionTime(i, v); });
  if (!r) {
    return absl::NotFoundError(absl::StrCat("no instance \"", id, "\""));
  }
  return r->ToJson();
}

absl::StatusOr<nlohmann::json> FleetService::Versions(const std::string& id, int64_t from,
                                                      int64_t to, int limit) {
  if (limit <= 0 || limit > kMaxHistory) {
    return Invalid("limit", absl::StrCat("must be between 1 and ", kMaxHistory));
  }
  SF_ASSIGN_OR_RETURN(std::optional<VersionHead> head, ledger_->Head(id));
  if (!head) {
    SF_RETURN_IF_ERROR(FindInstance(id).status());
    return nlohmann::json::array();
  }
  int64_t upper = to > 0 ? std::min(to, head->version) : head->version;
  int64_t lower = std::max<int64_t>(from, upper - limit + 1);
  SF_ASSIGN_OR_RETURN(std::vector<VersionInfo> history, ledger_->History(id, lower, upper));
  nlohmann::json out = nlohmann::json::array();
  for (const VersionInfo& info : history) {
    out.push_back(info.ToJson());
  }
  return out;
}

absl::StatusOr<nlohmann::json> FleetService::Version(const std::string& id, int64_t version) {
  SF_ASSIGN_OR_RETURN(VersionInfo info, ledger_->Info(id, version));
  SF_ASSIGN_OR_RETURN(nlohmann::json document, ledger_->Document(id, version));
  nlohmann::json out = info.ToJson();
  out["document"] = std::move(document);
  return out;
}

absl::StatusOr<nlohmann::json> FleetService::Diff(const std::string& id, int64_t from, int64_t to) {
  SF_ASSIGN_OR_RETURN(nlohmann::json patch, ledger_->Diff(id, from, to));
  return nlohmann::json{{"instance", id}, {"from", from}, {"to", to}, {"patch", patch}};
}

absl::StatusOr<nlohmann::json> FleetService::RecordChange(const ChangeRequest& request) {
  std::vector<std::string> ids = request.instances;
  if (!request.group.empty()) {
    for (const std::string& id : state_->InstanceIds()) {
      Cached<InstanceRecord> instance = state_->Instance(id);
      if (instance && instance->group == request.group && !instance->removed) {
        ids.push_back(id);
      }
    }
    if (ids.empty()) {
      return absl::NotFoundError(absl::StrCat("group \"", request.group, "\" has no instances"));
    }
  }
  // Check every instance first, so that a typo in the list records nothing at all.
  for (const std::string& id : ids) {
    SF_RETURN_IF_ERROR(FindInstance(id).status());
    SF_ASSIGN_OR_RETURN(std::optional<VersionHead> head, ledger_->Head(id));
    if (!head) {
      return absl::FailedPreconditionError(
          absl::StrCat("instance ", id, " has no configuration yet; try again shortly"));
    }
  }
  nlohmann::json patch = request.patch;
  if (!request.set.empty()) {
    patch = nlohmann::json::array();
    for (const auto& [pointer, value] : request.set) {
      patch.push_back({{"op", "add"}, {"path", pointer}, {"value", value}});
    }
  }
  ChangeMeta meta{request.author, request.reason, ChangeSource::kRecorded};
  nlohmann::json results = nlohmann::json::array();
  for (const std::string& id : ids) {
    absl::StatusOr<RecordResult> recorded = request.merge.is_object()
                                                ? ledger_->RecordMerge(id, request.merge, meta)
                                                : ledger_->RecordPatch(id, patch, meta);
    if (!recorded.ok()) {
      if (results.empty()) {
        return recorded.status();
      }
      // Earlier instances were recorded already: report exactly what happened.
      results.push_back({{"instance", id}, {"error", std::string(recorded.status().message())}});
      continue;
    }
    if (recorded->created && metrics_ != nullptr) {
      metrics_->LedgerVersions("recorded").Increment();
    }
    nlohmann::json item = recorded->info.ToJson();
    item["created"] = recorded->created;
    results.push_back(item);
  }
  if (nudge_) {
    nudge_();
  }
  return nlohmann::json{{"versions", results}};
}

absl::StatusOr<nlohmann::json> FleetService::MarkTested(const std::string& id, int64_t version,
                                                        const std::string& author) {
  SF_RETURN_IF_ERROR(ledger_->MarkTested(id, version, author));
  if (nudge_) {
    nudge_();
  }
  SF_ASSIGN_OR_RETURN(VersionInfo info, ledger_->Info(id, version));
  return info.ToJson();
}

absl::StatusOr<nlohmann::json> FleetService::ShadowDelta(const std::string& id) {
  SF_ASSIGN_OR_RETURN(Cached<InstanceRecord> instance, FindInstance(id));
  Cached<ShadowRecord> shadow = state_->Shadow(id);
  std::optional<VersionHead> head = state_->Head(id);
  int64_t live = instance->live_version;
  int64_t from = shadow ? shadow->version : 0;
  nlohmann::json delta = nlohmann::json::array();
  if (live > 0 && from > 0 && from != live) {
    SF_ASSIGN_OR_RETURN(delta, ledger_->Diff(id, from, live));
  } else if (live > 0 && from == 0) {
    // No shadow yet: the delta is the whole configuration.
    SF_ASSIGN_OR_RETURN(nlohmann::json document, ledger_->Document(id, live));
    delta = nlohmann::json::diff(nlohmann::json::object(), document);
  }
  return nlohmann::json{{"instanceId", id},
                        {"shadowVersion", from},
                        {"liveVersion", live},
                        {"latestVersion", head ? head->version : 0},
                        {"configurationDelta", delta}};
}

absl::StatusOr<nlohmann::json> FleetService::Compact(const std::string& id,
                                                     const RetentionPolicy& policy) {
  SF_RETURN_IF_ERROR(FindInstance(id).status());
  // The shadow's version must survive: the shadow delta and the next apply start from it.
  Cached<ShadowRecord> shadow = state_->Shadow(id);
  Cached<InstanceRecord> instance = state_->Instance(id);
  int64_t keep = 0;
  if (shadow && shadow->version > 0) {
    keep = shadow->version;
  }
  if (instance && instance->live_version > 0) {
    keep = keep == 0 ? instance->live_version : std::min(keep, instance->live_version);
  }
  SF_ASSIGN_OR_RETURN(CompactionResult result, ledger_->Compact(id, policy, keep));
  return nlohmann::json{{"instance", id},
                        {"removedVersions", result.removed_versions},
                        {"oldestKept", result.oldest_kept}};
}

absl::StatusOr<nlohmann::json> FleetService::Verify(const std::string& id) {
  SF_RETURN_IF_ERROR(ledger_->Verify(id));
  return nlohmann::json{{"instance", id}, {"verified", true}};
}

absl::StatusOr<nlohmann::json> FleetService::Events(const EventQuery& query) {
  SF_ASSIGN_OR_RETURN(std::vector<EventRecord> events, store_->ListEvents(query));
  nlohmann::json out = nlohmann::json::array();
  for (const EventRecord& e : events) {
    nlohmann::json details = nlohmann::json::parse(e.details, nullptr, false);
    out.push_back({{"id", e.id},
                   {"time", TimeToDisplay(absl::FromUnixMillis(e.time_ms))},
                   {"kind", e.kind},
                   {"subject", e.subject},
                   {"actor", e.actor},
                   {"message", e.message},
                   {"details", details.is_discarded() ? nlohmann::json(nullptr) : details}});
  }
  return out;
}

}  // namespace shadowfleet

#include "shadowfleet/fleet/fleet_state.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/logging.h"
#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/spec/spec_parser.h"

namespace shadowfleet {
namespace {

template <typename T>
absl::StatusOr<std::shared_ptr<const T>> ParseRecord(const std::string& value) {
  nlohmann::json j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return absl::DataLossError("stored object is not valid JSON");
  }
  SF_ASSIGN_OR_RETURN(T record, T::FromJson(j));
  return std::make_shared<const T>(std::move(record));
}

}  // namespace

std::string FleetGenerationKey(const std::string& fleet, int64_t generation) {
  return absl::StrCat(fleet, "/", generation);
}

nlohmann::json StoredFleet::ToJson() const {
  return {{"name", name},
          {"source", source},
          {"generation", generation},
          {"appliedAt", TimeToJson(applied_at)},
          {"appliedBy", applied_by}};
}

absl::StatusOr<StoredFleet> StoredFleet::FromJson(const nlohmann::json& j) {
  StoredFleet fleet;
  try {
    fleet.name = j.at("name").get<std::string>();
    fleet.source = j.at("source").get<std::string>();
    fleet.generation = j.at("generation").get<int64_t>();
    fleet.applied_at = TimeFromJson(j.at("appliedAt").get<int64_t>());
    fleet.applied_by = j.value("appliedBy", "");
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat("malformed stored fleet: ", e.what()));
  }
  absl::StatusOr<std::vector<FleetSpec>> parsed =
      ParseFleetSpecs(fleet.source, "stored fleet " + fleet.name);
  if (!parsed.ok()) {
    // It parsed when it was applied: failing now means the stored copy was damaged.
    return absl::DataLossError(absl::StrCat("stored fleet ", fleet.name,
                                            " no longer parses: ", parsed.status().message()));
  }
  std::vector<FleetSpec> specs = *std::move(parsed);
  auto it = std::find_if(specs.begin(), specs.end(),
                         [&](const FleetSpec& s) { return s.name == fleet.name; });
  if (it == specs.end()) {
    return absl::DataLossError(absl::StrCat("stored fleet ", fleet.name, " lost its spec"));
  }
  fleet.spec = std::move(*it);
  return fleet;
}

absl::Status FleetState::Sync() {
  int64_t after;
  {
    absl::MutexLock lock(&mu_);
    after = synced_revision_;
  }
  SF_ASSIGN_OR_RETURN(ChangeSet changes, store_->ListChanges(after));
  std::vector<ObjectRecord> others;
  {
    absl::MutexLock lock(&mu_);
    for (ObjectRecord& record : changes.changes) {
      if (watchers_.count(record.kind) > 0) {
        others.push_back(std::move(record));
      } else {
        ApplyChange(record);
      }
    }
    synced_revision_ = std::max(synced_revision_, changes.revision);
  }
  Notify(std::move(others));
  return absl::OkStatus();
}

void FleetState::Watch(const std::string& kind,
                       std::function<void(const ObjectRecord&)> on_change) {
  watchers_[kind].push_back(std::move(on_change));
}

void FleetState::Notify(std::vector<ObjectRecord> changes) {
  for (const ObjectRecord& change : changes) {
    auto it = watchers_.find(change.kind);
    if (it == watchers_.end()) {
      continue;
    }
    for (const auto& watcher : it->second) {
      watcher(change);
    }
  }
}

template <typename T>
void FleetState::Upsert(Map<T>& map, const std::string& key, std::shared_ptr<const T> value,
                        int64_t revision) {
  Cached<T>& slot = map[key];
  if (slot.value == nullptr || slot.revision < revision) {
    slot = {std::move(value), revision};
  }
}

template <typename T>
void FleetState::Erase(Map<T>& map, const std::string& key, int64_t revision) {
  auto it = map.find(key);
  if (it != map.end() && it->second.revision < revision) {
    map.erase(it);
  }
}

void FleetState::ApplyChange(const ObjectRecord& record) {
  auto report = [&](const absl::Status& status) {
    ++malformed_records_;
    Logger("state")->warn("skipping unreadable stored object kind={} name={} error={}", record.kind,
                          record.name, status.ToString());
  };
  if (record.kind == kLedgerHeadObject) {
    if (record.deleted) {
      heads_.erase(record.name);
    } else if (auto head = VersionHead::Decode(record.name, record.value)) {
      heads_[record.name] = *head;
    }
    return;
  }
  auto handle = [&](auto& map, auto* type_tag) {
    using T = std::remove_pointer_t<decltype(type_tag)>;
    if (record.deleted) {
      Erase(map, record.name, record.revision);
      return;
    }
    auto parsed = ParseRecord<T>(record.value);
    if (!parsed.ok()) {
      report(parsed.status());
      return;
    }
    Upsert(map, record.name, *std::move(parsed), record.revision);
  };
  if (record.kind == kInstanceObject) {
    handle(instances_, static_cast<InstanceRecord*>(nullptr));
  } else if (record.kind == kShadowObject) {
    handle(shadows_, static_cast<ShadowRecord*>(nullptr));
  } else if (record.kind == kVolumeObject) {
    handle(volumes_, static_cast<VolumeStatus*>(nullptr));
  } else if (record.kind == kFleetObject) {
    handle(fleets_, static_cast<StoredFleet*>(nullptr));
    group_owner_.clear();
    for (const auto& [name, fleet] : fleets_) {
      for (const GroupSpec& group : fleet->spec.groups) {
        group_owner_[group.name] = name;
      }
    }
  }
}

absl::StatusOr<int64_t> FleetState::Commit(StateBatch& batch) {
  SF_ASSIGN_OR_RETURN(int64_t revision, store_->Commit(batch.batch_));
  absl::MutexLock lock(&mu_);
  for (const auto& [kind, name] : batch.deletions_) {
    if (kind == kInstanceObject) {
      Erase(instances_, name, revision);
    } else if (kind == kShadowObject) {
      Erase(shadows_, name, revision);
    } else if (kind == kVolumeObject) {
      Erase(volumes_, name, revision);
    } else if (kind == kFleetObject) {
      Erase(fleets_, name, revision);
    }
  }
  for (auto& r : batch.instances_) {
    Upsert(instances_, r->id, r, revision);
  }
  for (auto& r : batch.shadows_) {
    Upsert(shadows_, r->instance_id, r, revision);
  }
  for (auto& r : batch.volumes_) {
    Upsert(volumes_, VolumeKey(r->instance_id, r->volume), r, revision);
  }
  if (!batch.fleets_.empty() || !batch.deletions_.empty()) {
    for (auto& r : batch.fleets_) {
      Upsert(fleets_, r->name, r, revision);
    }
    group_owner_.clear();
    for (const auto& [name, fleet] : fleets_) {
      for (const GroupSpec& group : fleet->spec.groups) {
        group_owner_[group.name] = name;
      }
    }
  }
  return revision;
}

std::vector<std::string> FleetState::InstanceIds() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> ids;
  ids.reserve(instances_.size());
  for (const auto& [id, record] : instances_) {
    ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

Cached<InstanceRecord> FleetState::Instance(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = instances_.find(id);
  return it == instances_.end() ? Cached<InstanceRecord>{} : it->second;
}

Cached<ShadowRecord> FleetState::Shadow(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = shadows_.find(id);
  return it == shadows_.end() ? Cached<ShadowRecord>{} : it->second;
}

Cached<VolumeStatus> FleetState::Volume(const std::string& instance_id,
                                        const std::string& volume) const {
  absl::MutexLock lock(&mu_);
  auto it = volumes_.find(VolumeKey(instance_id, volume));
  return it == volumes_.end() ? Cached<VolumeStatus>{} : it->second;
}

std::optional<VersionHead> FleetState::Head(const std::string& instance_id) const {
  absl::MutexLock lock(&mu_);
  auto it = heads_.find(instance_id);
  if (it == heads_.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::vector<Cached<StoredFleet>> FleetState::Fleets() const {
  absl::MutexLock lock(&mu_);
  std::vector<Cached<StoredFleet>> out;
  for (const auto& [name, fleet] : fleets_) {
    out.push_back(fleet);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->name < b->name; });
  return out;
}

Cached<StoredFleet> FleetState::Fleet(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = fleets_.find(name);
  return it == fleets_.end() ? Cached<StoredFleet>{} : it->second;
}

std::shared_ptr<const GroupSpec> FleetState::Group(const std::string& group) const {
  absl::MutexLock lock(&mu_);
  auto owner = group_owner_.find(group);
  if (owner == group_owner_.end()) {
    return nullptr;
  }
  auto fleet = fleets_.find(owner->second);
  if (fleet == fleets_.end()) {
    return nullptr;
  }
  const GroupSpec* spec = FindGroup(fleet->second->spec, group);
  // Shares ownership of the whole fleet snapshot, so the group outlives a re-apply.
  return spec == nullptr ? nullptr : std::shared_ptr<const GroupSpec>(fleet->second.value, spec);
}

absl::StatusOr<std::shared_ptr<const StoredFleet>> FleetState::FleetAtGeneration(
    const std::string& name, int64_t generation) {
  std::string key = FleetGenerationKey(name, generation);
  {
    absl::MutexLock lock(&mu_);
    auto it = generations_.find(key);
    if (it != generations_.end()) {
      return it->second;
    }
  }
  SF_ASSIGN_OR_RETURN(std::optional<ObjectRecord> record, store_->Get(kFleetGenerationObject, key));
  if (!record) {
    return std::shared_ptr<const StoredFleet>();
  }
  SF_ASSIGN_OR_RETURN(std::shared_ptr<const StoredFleet> fleet,
                      ParseRecord<StoredFleet>(record->value));
  absl::MutexLock lock(&mu_);
  generations_[key] = fleet;
  return fleet;
}

std::shared_ptr<const GroupSpec> FleetState::GroupOf(const InstanceRecord& instance) {
  if (std::shared_ptr<const GroupSpec> current = Group(instance.group)) {
    return current;
  }
  if (instance.spec_generation <= 0) {
    return nullptr;
  }
  absl::StatusOr<std::shared_ptr<const StoredFleet>> fleet =
      FleetAtGeneration(instance.fleet, instance.spec_generation);
  if (!fleet.ok() || *fleet == nullptr) {
    return nullptr;
  }
  const GroupSpec* spec = FindGroup((*fleet)->spec, instance.group);
  return spec == nullptr ? nullptr : std::shared_ptr<const GroupSpec>(*fleet, spec);
}

size_t FleetState::instance_count() const {
  absl::MutexLock lock(&mu_);
  return instances_.size();
}

void StateBatch::PutInstance(const InstanceRecord& record, int64_t expected_revision) {
  batch_.Put(kInstanceObject, record.id, record.ToJson().dump(), expected_revision);
  instances_.push_back(std::make_shared<const InstanceRecord>(record));
}

void StateBatch::DeleteInstance(const std::string& id, int64_t expected_revision) {
  batch_.Delete(kInstanceObject, id, expected_revision);
  deletions_.emplace_back(kInstanceObject, id);
}

void StateBatch::PutShadow(const ShadowRecord& record, int64_t expected_revision) {
  batch_.Put(kShadowObject, record.instance_id, record.ToJson().dump(), expected_revision);
  shadows_.push_back(std::make_shared<const ShadowRecord>(record));
}

void StateBatch::DeleteShadow(const std::string& id, int64_t expected_revision) {
  batch_.Delete(kShadowObject, id, expected_revision);
  deletions_.emplace_back(kShadowObject, id);
}

void StateBatch::PutVolume(const VolumeStatus& status, int64_t expected_revision) {
  batch_.Put(kVolumeObject, VolumeKey(status.instance_id, status.volume), status.ToJson().dump(),
             expected_revision);
  volumes_.push_back(std::make_shared<const VolumeStatus>(status));
}

void StateBatch::DeleteVolume(const std::string& instance_id, const std::string& volume,
                              int64_t expected_revision) {
  batch_.Delete(kVolumeObject, VolumeKey(instance_id, volume), expected_revision);
  deletions_.emplace_back(kVolumeObject, VolumeKey(instance_id, volume));
}

void StateBatch::PutFleet(const StoredFleet& fleet, int64_t expected_revision) {
  batch_.Put(kFleetObject, fleet.name, fleet.ToJson().dump(), expected_revision);
  fleets_.push_back(std::make_shared<const StoredFleet>(fleet));
}

void StateBatch::PutFleetGeneration(const StoredFleet& fleet) {
  batch_.Put(kFleetGenerationObject, FleetGenerationKey(fleet.name, fleet.generation),
             fleet.ToJson().dump(), kAnyRevision);
}

void StateBatch::DeleteFleet(const std::string& name, int64_t expected_revision) {
  batch_.Delete(kFleetObject, name, expected_revision);
  deletions_.emplace_back(kFleetObject, name);
}

void StateBatch::AddEvent(EventRecord event) {
  batch_.AppendEvent(std::move(event));
}

void StateBatch::PutObject(std::string kind, std::string name, std::string value,
                           int64_t expected_revision) {
  others_.push_back({kind, name, 0, false, value});
  batch_.Put(std::move(kind), std::move(name), std::move(value), expected_revision);
}

}  // namespace shadowfleet

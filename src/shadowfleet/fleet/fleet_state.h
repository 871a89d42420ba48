// An in-memory view of the fleet's stored state (fleet specs, instances, shadows, volume
// status, ledger heads), kept current from the store's change log. Like a Kubernetes
// informer cache: readers get immutable snapshots (never mutate them; copy, change and
// commit), writers commit through StateBatch with the revision they read, and a conflicting
// write by another daemon surfaces as ABORTED.
//
// Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "shadowfleet/fleet/records.h"
#include "shadowfleet/spec/fleet_spec.h"
#include "shadowfleet/store/store.h"

namespace shadowfleet {

// A fleet spec as applied: the source text is kept so that the parsed form can always be
// recomputed and shown back to the user exactly as written.
struct StoredFleet {
  std::string name;
  std::string source;
  int64_t generation = 0;  // Incremented by every apply that changed the spec.
  absl::Time applied_at = absl::InfinitePast();
  std::string applied_by;
  FleetSpec spec;

  nlohmann::json ToJson() const;  // Without the parsed spec.
  static absl::StatusOr<StoredFleet> FromJson(const nlohmann::json& j);
};

inline constexpr char kFleetGenerationObject[] = "fleet.generation";
// The store name of a fleet's copy at `generation`: "<fleet>/<generation>".
std::string FleetGenerationKey(const std::string& fleet, int64_t generation);

// An immutable snapshot of a stored object and the revision it was read at.
template <typename T>
struct Cached {
  std::shared_ptr<const T> value;
  int64_t revision = 0;

  explicit operator bool() const { return value != nullptr; }
  const T& operator*() const { return *value; }
  const T* operator->() const { return value.get(); }
};

class StateBatch;

class FleetState {
 public:
  explicit FleetState(Store* store) : store_(store) {}
  FleetState(const FleetState&) = delete;
  FleetState& operator=(const FleetState&) = delete;

  // Reads every change committed since the last Sync (by this or any other process).
  absl::Status Sync();

  // Commits `batch` atomically and, on success, updates this view with what it wrote.
  absl::StatusOr<int64_t> Commit(StateBatch& batch);

  std::vector<std::string> InstanceIds() const;
  Cached<InstanceRecord> Instance(const std::string& id) const;
  Cached<ShadowRecord> Shadow(const std::string& id) const;
  Cached<VolumeStatus> Volume(const std::string& instance_id, const std::string& volume) const;
  std::optional<VersionHead> Head(const std::string& instance_id) const;
  std::vector<Cached<StoredFleet>> Fleets() const;
  Cached<StoredFleet> Fleet(const std::string& name) const;
  // The fleet as it was at `generation` (kept by every apply), or null if it was never stored.
  absl::StatusOr<std::shared_ptr<const StoredFleet>> FleetAtGeneration(const std::string& name,
                                                                       int64_t generation);
  // The spec `instance` was last built from: its group in the current fleet spec, or, once
  // the group or fleet is gone from the specs, the group as it was at the instance's
  // generation (what tearing its replicas down needs). Null if neither exists.
  std::shared_ptr<const GroupSpec> GroupOf(const InstanceRecord& instance);
  // The spec of `group` from whichever fleet declares it, or null.
  std::shared_ptr<const GroupSpec> Group(const std::string& group) const;
  size_t instance_count() const;

  // Calls `on_change` (from Sync(), with no lock of this view held) for every change to an
  // object of `kind` that this view does not model itself, such as switchovers: components
  // that own such objects keep their own typed cache this way, updating it themselves for
  // what they commit. Call before the first Sync().
  void Watch(const std::string& kind, std::function<void(const ObjectRecord&)> on_change);

 private:
  void Notify(std::vector<ObjectRecord> changes) ABSL_LOCKS_EXCLUDED(mu_);

  template <typename T>
  using Map = std::unordered_map<std::string, Cached<T>>;

  void ApplyChange(const ObjectRecord& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  template <typename T>
  static void Upsert(Map<T>& map, const std::string& key, std::shared_ptr<const T> value,
                     int64_t revision);
  template <typename T>
  static void Erase(Map<T>& map, const std::string& key, int64_t revision);

  Store* const store_;
  mutable absl::Mutex mu_;
  int64_t synced_revision_ ABSL_GUARDED_BY(mu_) = 0;
  Map<InstanceRecord> instances_ ABSL_GUARDED_BY(mu_);
  Map<ShadowRecord> shadows_ ABSL_GUARDED_BY(mu_);
  Map<VolumeStatus> volumes_ ABSL_GUARDED_BY(mu_);
  Map<StoredFleet> fleets_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, VersionHead> heads_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> group_owner_ ABSL_GUARDED_BY(mu_);  // group -> fleet
  std::map<std::string, std::shared_ptr<const StoredFleet>> generations_ ABSL_GUARDED_BY(mu_);
  int malformed_records_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::vector<std::function<void(const ObjectRecord&)>>> watchers_;
};

// Typed writes for FleetState::Commit. Each Put names the revision its caller read
// (kMustNotExist for a new object); a mismatch aborts the whole batch.
class StateBatch {
 public:
  void PutInstance(const InstanceRecord& record, int64_t expected_revision);
  void DeleteInstance(const std::string& id, int64_t expected_revision);
  void PutShadow(const ShadowRecord& record, int64_t expected_revision);
  void DeleteShadow(const std::string& id, int64_t expected_revision);
  void PutVolume(const VolumeStatus& status, int64_t expected_revision);
  void DeleteVolume(const std::string& instance_id, const std::string& volume,
                    int64_t expected_revision);
  void PutFleet(const StoredFleet& fleet, int64_t expected_revision);
  // The immutable copy of `fleet` at its generation.
  void PutFleetGeneration(const StoredFleet& fleet);
  void DeleteFleet(const std::string& name, int64_t expected_revision);
  void AddEvent(EventRecord event);
  // An object of a kind this view does not model (delivered to its watchers).
  void PutObject(std::string kind, std::string name, std::string value, int64_t expected_revision);

  const WriteBatch& write_batch() const { return batch_; }
  bool empty() const { return batch_.empty(); }

 private:
  friend class FleetState;
  WriteBatch batch_;
  std::vector<std::shared_ptr<const InstanceRecord>> instances_;
  std::vector<std::shared_ptr<const ShadowRecord>> shadows_;
  std::vector<std::shared_ptr<const VolumeStatus>> volumes_;
  std::vector<std::shared_ptr<const StoredFleet>> fleets_;
  std::vector<std::pair<std::string, std::string>> deletions_;  // (kind, name)
  std::vector<ObjectRecord> others_;
};

}  // namespace shadowfleet

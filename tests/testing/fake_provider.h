// A provider for unit tests: replicas live in a map, every call is recorded, and failures
// and replica states are set by the test. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "shadowfleet/provider/provider.h"

namespace shadowfleet::testing {

class FakeProvider : public Provider {
 public:
  struct Call {
    std::string operation;
    std::string replica_id;
    int64_t version = 0;
  };
  struct FakeReplica {
    Role role = Role::kShadow;
    std::string instance_id;
    ReplicaStatus status;
    nlohmann::json configuration;
    std::optional<nlohmann::json> observed;
  };

  const char* name() const override { return "fake"; }

  absl::StatusOr<Replica> Create(const CreateRequest& request) override {
    std::lock_guard lock(mu_);
    calls_.push_back({"create", request.replica_id, request.version});
    if (!create_error_.ok()) {
      return create_error_;
    }
    FakeReplica& r = replicas_[request.replica_id];
    r.role = request.role;
    r.instance_id = request.instance_id;
    r.status.phase = new_replica_phase_;
    r.status.healthy = new_replica_phase_ == ReplicaPhase::kRunning;
    r.status.applied_version = request.version;
    r.configuration = request.configuration;
    Replica replica;
    replica.id = request.replica_id;
    replica.provider_id = "fake:" + request.replica_id;
    replica.endpoint = "fake";
    return replica;
  }

  absl::StatusOr<Replica> Apply(const Replica& replica, const ApplyRequest& request) override {
    std::lock_guard lock(mu_);
    calls_.push_back({"apply", replica.id, request.version});
    auto it = replicas_.find(replica.id);
    if (it == replicas_.end()) {
      return absl::NotFoundError("no replica " + replica.id);
    }
    if (!apply_error_.ok() && (!apply_error_role_ || *apply_error_role_ == it->second.role)) {
      return apply_error_;
    }
    it->second.configuration = request.configuration;
    if (!async_apply_) {
      it->second.status.applied_version = request.version;
    }
    return replica;
  }

  absl::StatusOr<ReplicaStatus> Check(const Replica& replica) override {
    std::lock_guard lock(mu_);
    calls_.push_back({"check", replica.id, 0});
    if (!check_error_.ok()) {
      return check_error_;
    }
    auto it = replicas_.find(replica.id);
    if (it == replicas_.end()) {
      return ReplicaStatus{ReplicaPhase::kGone, false, -1, "no such replica"};
    }
    return it->second.status;
  }

  absl::Status Terminate(const Replica& replica) override {
    std::lock_guard lock(mu_);
    calls_.push_back({"terminate", replica.id, 0});
    if (!terminate_error_.ok()) {
      return terminate_error_;
    }
    replicas_.erase(replica.id);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<ListedReplica>> List() override {
    std::lock_guard lock(mu_);
    calls_.push_back({"list", "", 0});
    std::vector<ListedReplica> out;
    for (const auto& [id, r] : replicas_) {
      ListedReplica listed;
      listed.instance_id = r.instance_id;
      listed.role = r.role;
      listed.replica.id = id;
      listed.replica.provider_id = "fake:" + id;
      out.push_back(listed);
    }
    return out;
  }

  absl::StatusOr<std::optional<nlohmann::json>> Observe(const Replica& replica) override {
    std::lock_guard lock(mu_);
    calls_.push_back({"observe", replica.id, 0});
    auto it = replicas_.find(replica.id);
    if (it == replicas_.end()) {
      return absl::NotFoundError("no replica " + replica.id);
    }
    return it->second.observed;
  }

  absl::StatusOr<VolumeSyncResult> SyncVolume(const Replica& source, const Replica& target,
                                              const VolumeSpec& volume) override {
    std::lock_guard lock(mu_);
    calls_.push_back({"sync-volume:" + volume.name, target.id, 0});
    (void)source;
    if (!sync_error_.ok()) {
      return sync_error_;
    }
    VolumeSyncResult result;
    result.synced_as_of = sync_time_;
    return result;
  }

  // Test controls.
  void FailCreate(absl::Status s) {
    std::lock_guard l(mu_);
    create_error_ = std::move(s);
  }
  // Fails applies to every replica, or only to those of `role`.
  void FailApply(absl::Status s, std::optional<Role> role = std::nullopt) {
    std::lock_guard l(mu_);
    apply_error_ = std::move(s);
    apply_error_role_ = role;
  }
  void FailCheck(absl::Status s) {
    std::lock_guard l(mu_);
    check_error_ = std::move(s);
  }
  void FailTerminate(absl::Status s) {
    std::lock_guard l(mu_);
    terminate_error_ = std::move(s);
  }
  void FailSync(absl::Status s) {
    std::lock_guard l(mu_);
    sync_error_ = std::move(s);
  }
  void SetSyncTime(absl::Time t) {
    std::lock_guard l(mu_);
    sync_time_ = t;
  }
  void SetNewReplicaPhase(ReplicaPhase p) {
    std::lock_guard l(mu_);
    new_replica_phase_ = p;
  }
  void SetAsyncApply(bool async) {
    std::lock_guard l(mu_);
    async_apply_ = async;
  }

  // Changes the reported status of a replica; returns false if it does not exist.
  bool SetStatus(const std::string& replica_id, ReplicaPhase phase, bool healthy) {
    std::lock_guard l(mu_);
    auto it = replicas_.find(replica_id);
    if (it == replicas_.end()) {
      return false;
    }
    it->second.status.phase = phase;
    it->second.status.healthy = healthy;
    return true;
  }
  bool SetAppliedVersion(const std::string& replica_id, int64_t version) {
    std::lock_guard l(mu_);
    auto it = replicas_.find(replica_id);
    if (it == replicas_.end()) {
      return false;
    }
    it->second.status.applied_version = version;
    return true;
  }
  bool SetObserved(const std::string& replica_id, nlohmann::json observed) {
    std::lock_guard l(mu_);
    auto it = replicas_.find(replica_id);
    if (it == replicas_.end()) {
      return false;
    }
    it->second.observed = std::move(observed);
    return true;
  }
  // Adds a replica the store knows nothing about (an orphan, or an adopted live instance).
  void AddReplica(const std::string& id, const std::string& instance_id, Role role) {
    std::lock_guard l(mu_);
    FakeReplica& r = replicas_[id];
    r.role = role;
    r.instance_id = instance_id;
    r.status = {ReplicaPhase::kRunning, true, 1, ""};
  }

  std::vector<Call> calls() const {
    std::lock_guard l(mu_);
    return calls_;
  }
  void ClearCalls() {
    std::lock_guard l(mu_);
    calls_.clear();
  }
  bool Has(const std::string& replica_id) const {
    std::lock_guard l(mu_);
    return replicas_.count(replica_id) > 0;
  }
  std::optional<FakeReplica> Get(const std::string& replica_id) const {
    std::lock_guard l(mu_);
    auto it = replicas_.find(replica_id);
    if (it == replicas_.end()) {
      return std::nullopt;
    }
    return it->second;
  }
  size_t size() const {
    std::lock_guard l(mu_);
    return replicas_.size();
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, FakeReplica> replicas_;
  std::vector<Call> calls_;
  absl::Status create_error_, apply_error_, check_error_, terminate_error_, sync_error_;
  absl::Time sync_time_ = absl::InfinitePast();
  std::optional<Role> apply_error_role_;
  ReplicaPhase new_replica_phase_ = ReplicaPhase::kRunning;
  bool async_apply_ = false;
};

}  // namespace shadowfleet::testing

#include "shadowfleet/provider/sim_provider.h"

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/clock.h"

namespace shadowfleet {

size_t SimCloud::size() const {
  absl::MutexLock lock(&mu_);
  return replicas_.size();
}

bool SimCloud::Crash(const std::string& replica_id, const std::string& reason) {
  absl::MutexLock lock(&mu_);
  auto it = replicas_.find(replica_id);
  if (it == replicas_.end()) {
    return false;
  }
  it->second.failed = true;
  it->second.failure = reason;
  return true;
}

bool SimCloud::SetDrift(const std::string& replica_id, nlohmann::json partial_configuration) {
  absl::MutexLock lock(&mu_);
  auto it = replicas_.find(replica_id);
  if (it == replicas_.end()) {
    return false;
  }
  it->second.drift = std::move(partial_configuration);
  return true;
}

bool SimCloud::SetBehaviour(const std::string& replica_id, double error_rate,
                            double latency_seconds) {
  absl::MutexLock lock(&mu_);
  auto it = replicas_.find(replica_id);
  if (it == replicas_.end()) {
    return false;
  }
  it->second.error_rate = error_rate;
  it->second.latency = latency_seconds;
  return true;
}

absl::StatusOr<ReplicaCounters> SimCloud::Counters(const std::string& replica_id) const {
  absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = replicas_.find(replica_id);
  if (it == replicas_.end() || it->second.failed || now < it->second.ready_at) {
    return absl::NotFoundError("sim replica " + replica_id + " is not running");
  }
  const SimReplica& sim = it->second;
  ReplicaCounters counters;
  counters.requests = 100 * absl::ToDoubleSeconds(now - sim.ready_at);
  counters.errors = counters.requests * sim.error_rate;
  counters.latency_count = counters.requests;
  counters.latency_sum = counters.requests * sim.latency;
  return counters;
}

SimProvider::SimProvider(GroupSpec group, SimCloud* cloud)
    : group_(std::move(group)),
      settings_(std::get<SimProviderSettings>(group_.provider.settings)),
      cloud_(cloud),
      rng_(settings_.seed) {}

bool SimProvider::Chance(double probability) {
  return probability > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < probability;
}

absl::Duration SimProvider::CrashDelay() {
  if (settings_.crash_rate_per_hour <= 0) {
    return absl::InfiniteDuration();
  }
  std::exponential_distribution<double> hours(settings_.crash_rate_per_hour);
  return absl::Seconds(hours(rng_) * 3600);
}

absl::StatusOr<Replica> SimProvider::Create(const CreateRequest& request) {
  absl::Time now = cloud_->clock()->Now();
  SimCloud::SimReplica sim;
  sim.instance_id = request.instance_id;
  sim.group = group_.name;
  sim.role = request.role;
  sim.created_at = now;
  sim.ready_at = now + settings_.build_delay;
  sim.version = request.version;
  {
    absl::MutexLock lock(&rng_mu_);
    if (Chance(settings_.create_failure_rate)) {
      sim.failed = true;
      sim.failure = "simulated build failure";
    }
    sim.crash_at = sim.ready_at + CrashDelay();
  }
  {
    absl::MutexLock lock(&cloud_->mu_);
    cloud_->replicas_[request.replica_id] = std::move(sim);
  }
  Replica replica;
  replica.id = request.replica_id;
  replica.provider_id = "sim:" + request.replica_id;
  replica.created_at = now;
  return replica;
}

absl::StatusOr<Replica> SimProvider::Apply(const Replica& replica, const ApplyRequest& request) {
  bool fail;
  {
    absl::MutexLock lock(&rng_mu_);
    fail = Chance(settings_.apply_failure_rate);
  }
  if (fail) {
    return absl::UnavailableError(
        absl::StrCat("simulated failure applying version ", request.version, " to ", replica.id));
  }
  absl::Time now = cloud_->clock()->Now();
  absl::MutexLock lock(&cloud_->mu_);
  auto it = cloud_->replicas_.find(replica.id);
  if (it == cloud_->replicas_.end()) {
    return absl::NotFoundError("sim replica " + replica.id + " does not exist");
  }
  it->second.pending_version = request.version;
  it->second.apply_done_at = now + settings_.apply_delay;
  return replica;
}

absl::StatusOr<ReplicaStatus> SimProvider::Check(const Replica& replica) {
  absl::Time now = cloud_->clock()->Now();
  ReplicaStatus status;
  absl::MutexLock lock(&cloud_->mu_);
  auto it = cloud_->replicas_.find(replica.id);
  if (it == cloud_->replicas_.end()) {
    status.phase = ReplicaPhase::kGone;
    status.detail = "no such sim replica";
    return status;
  }
  SimCloud::SimReplica& sim = it->second;
  if (!sim.failed && now >= sim.crash_at) {
    sim.failed = true;
    sim.failure = "simulated crash";
  }
  if (sim.pending_version != 0 && now >= sim.apply_done_at) {
    sim.version = sim.pending_version;
    sim.pending_version = 0;
  }
  status.applied_version = sim.version;
  if (sim.failed) {
    status.phase = ReplicaPhase::kFailed;
    status.detail = sim.failure;
  } else if (now < sim.ready_at) {
    status.phase = ReplicaPhase::kBuilding;
    status.detail = "building";
  } else {
    status.phase = ReplicaPhase::kRunning;
    status.healthy = true;
  }
  return status;
}

absl::Status SimProvider::Terminate(const Replica& replica) {
  absl::MutexLock lock(&cloud_->mu_);
  cloud_->replicas_.erase(replica.id);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ListedReplica>> SimProvider::List() {
  std::vector<ListedReplica> out;
  absl::MutexLock lock(&cloud_->mu_);
  for (const auto& [id, sim] : cloud_->replicas_) {
    if (sim.group != group_.name) {
      continue;
    }
    ListedReplica listed;
    listed.instance_id = sim.instance_id;
    listed.group = sim.group;
    listed.role = sim.role;
    listed.replica.id = id;
    listed.replica.provider_id = "sim:" + id;
    listed.replica.created_at = sim.created_at;
    out.push_back(std::move(listed));
  }
  return out;
}

absl::StatusOr<std::optional<nlohmann::json>> SimProvider::Observe(const Replica& replica) {
  absl::MutexLock lock(&cloud_->mu_);
  auto it = cloud_->replicas_.find(replica.id);
  if (it == cloud_->replicas_.end()) {
    return absl::NotFoundError("sim replica " + replica.id + " does not exist");
  }
  return it->second.drift;
}

absl::StatusOr<VolumeSyncResult> SimProvider::SyncVolume(const Replica& source,
                                                         const Replica& target,
                                                         const VolumeSpec& volume) {
  (void)volume;
  absl::MutexLock lock(&cloud_->mu_);
  if (cloud_->replicas_.count(source.id) == 0 || cloud_->replicas_.count(target.id) == 0) {
    return absl::NotFoundError("sim volume sync between missing replicas");
  }
  VolumeSyncResult result;
  result.synced_as_of = cloud_->clock()->Now() - absl::Seconds(settings_.data_sync_lag_seconds);
  return result;
}

}  // namespace shadowfleet

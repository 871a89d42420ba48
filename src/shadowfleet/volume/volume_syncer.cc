#include "shadowfleet/volume/volume_syncer.h"

#include <mutex>

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/logging.h"
#include "shadowfleet/common/parallel.h"

namespace shadowfleet {
namespace {

struct Job {
  std::string instance_id;
  VolumeSpec volume;
  Replica live;
  Replica shadow;
  std::shared_ptr<Provider> provider;
  Cached<VolumeStatus> previous;
};

constexpr size_t kWriteBatch = 1000;

}  // namespace

VolumeSyncer::VolumeSyncer(FleetState* state, ProviderSet* providers, Clock* clock,
                           Metrics* metrics, int workers)
    : state_(state), providers_(providers), clock_(clock), metrics_(metrics), workers_(workers) {}

VolumePassStats VolumeSyncer::SyncDue() {
  absl::Time now = clock_->Now();
  std::vector<Job> jobs;
  for (const std::string& id : state_->InstanceIds()) {
    Cached<InstanceRecord> instance = state_->Instance(id);
    Cached<ShadowRecord> shadow = state_->Shadow(id);
    if (!instance || instance->removed || !instance->live || !shadow || !shadow->replica ||
        shadow->replica->provider_id.empty() || shadow->phase == ShadowPhase::kPending) {
      continue;
    }
    std::shared_ptr<const GroupSpec> group = state_->Group(instance->group);
    if (group == nullptr || group->volumes.empty()) {
      continue;
    }
    absl::StatusOr<std::shared_ptr<Provider>> provider = providers_->For(*group);
    if (!provider.ok()) {
      continue;
    }
    for (const VolumeSpec& volume : group->volumes) {
      Cached<VolumeStatus> previous = state_->Volume(id, volume.name);
      bool same_replica = previous && previous->shadow_replica == shadow->replica->id;
      if (same_replica && now - previous->last_attempt < volume.interval) {
        continue;
      }
      jobs.push_back({id, volume, *instance->live, *shadow->replica, *provider, previous});
    }
  }

  std::vector<VolumeStatus> results(jobs.size());
  ParallelFor(jobs.size(), workers_, [&](size_t i) {
    const Job& job = jobs[i];
    VolumeStatus& status = results[i];
    status.instance_id = job.instance_id;
    status.volume = job.volume.name;
    status.shadow_replica = job.shadow.id;
    status.last_attempt = now;
    bool same_replica = job.previous && job.previous->shadow_replica == job.shadow.id;
    if (same_replica) {
      status.synced_as_of = job.previous->synced_as_of;
    }
    absl::StatusOr<VolumeSyncResult> result =
        job.provider->SyncVolume(job.live, job.shadow, job.volume);
    if (!result.ok()) {
      status.last_error = std::string(result.status().message());
      Logger("volume")->warn("volume sync failed instance={} volume={} error={}", job.instance_id,
                             job.volume.name, result.status().ToString());
      return;
    }
    status.synced_as_of = result->synced_as_of;
    status.files_copied = result->files_copied;
    status.bytes_copied = result->bytes_copied;
  });

  VolumePassStats stats;
  StateBatch batch;
  size_t in_batch = 0;
  auto flush = [&] {
    if (in_batch == 0) {
      return;
    }
    absl::Status status = state_->Commit(batch).status();
    if (!status.ok()) {
      Logger("volume")->warn("could not record volume status error={}", status.ToString());
    }
    batch = StateBatch();
    in_batch = 0;
  };
  for (size_t i = 0; i < jobs.size(); ++i) {
    const VolumeStatus& status = results[i];
    bool ok = status.last_error.empty();
    ok ? stats.synced++ : stats.failed++;
    stats.bytes_copied += status.bytes_copied;
    if (metrics_ != nullptr) {
      metrics_->VolumeSync(ok ? "ok" : "failed").Increment();
    }
    // Expected revision "any": this syncer is the only writer of volume status.
    batch.PutVolume(status, kAnyRevision);
    if (++in_batch >= kWriteBatch) {
      flush();
    }
  }
  flush();
  return stats;
}

}  // namespace shadowfleet

// The process provider: each replica is a real local OS process, started from the group's
// command template with its configuration rendered to a file and a port of its own.
//
// Each replica lives in "<workDir>/<replica id>/": replica.json (who it is, its pid and
// port), config.json (the rendered configuration), output.log, and its data volumes. The
// directory is the provider's source of truth, so replicas survive a daemon restart and are
// found again by List(). Processes run in their own session and outlive the daemon.
#pragma once

#include <memory>
#include <string>

#include "shadowfleet/provider/provider.h"

namespace shadowfleet {

class ProcessProvider : public Provider {
 public:
  ProcessProvider(GroupSpec group, ProviderEnvironment environment);

  const char* name() const override { return "process"; }
  absl::StatusOr<Replica> Create(const CreateRequest& request) override;
  absl::StatusOr<Replica> Apply(const Replica& replica, const ApplyRequest& request) override;
  absl::StatusOr<ReplicaStatus> Check(const Replica& replica) override;
  absl::Status Terminate(const Replica& replica) override;
  absl::StatusOr<std::vector<ListedReplica>> List() override;
  absl::StatusOr<std::optional<nlohmann::json>> Observe(const Replica& replica) override;
  absl::StatusOr<VolumeSyncResult> SyncVolume(const Replica& source, const Replica& target,
                                              const VolumeSpec& volume) override;

  // The directory of a replica.
  std::string ReplicaDir(const std::string& replica_id) const;

 private:
  struct Handle {
    int pid = 0;
    uint64_t start_ticks = 0;
    int port = 0;
  };
  absl::StatusOr<Handle> Start(const std::string& replica_id, const std::string& instance_id,
                               Role role, int port);
  absl::StatusOr<Handle> HandleOf(const Replica& replica) const;
  Replica ReplicaFrom(const std::string& replica_id, const Handle& handle) const;

  const GroupSpec group_;
  const ProcessProviderSettings settings_;
  const ProviderEnvironment environment_;
  const std::string work_dir_;
};

}  // namespace shadowfleet

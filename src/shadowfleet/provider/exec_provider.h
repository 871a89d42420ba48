// The exec provider: runs a plug-in program for every provider operation, so that any cloud
// CLI or script can run shadowfleet's replicas. The protocol (docs/exec-protocol.md):
//
//   argv:   the group's settings.command, then the operation name (no shell involved)
//   stdin:  one JSON object, the request
//   stdout: one JSON object, the response
//   exit 0 on success; otherwise the response may carry {"error": "..."} and stderr is kept
//
// Operations: create, apply, check, terminate, list, observe.
#pragma once

#include <string>

#include "shadowfleet/provider/provider.h"

namespace shadowfleet {

class ExecProvider : public Provider {
 public:
  ExecProvider(GroupSpec group, ProviderEnvironment environment);

  const char* name() const override { return "exec"; }
  absl::StatusOr<Replica> Create(const CreateRequest& request) override;
  absl::StatusOr<Replica> Apply(const Replica& replica, const ApplyRequest& request) override;
  absl::StatusOr<ReplicaStatus> Check(const Replica& replica) override;
  absl::Status Terminate(const Replica& replica) override;
  absl::StatusOr<std::vector<ListedReplica>> List() override;
  absl::StatusOr<std::optional<nlohmann::json>> Observe(const Replica& replica) override;
  absl::StatusOr<VolumeSyncResult> SyncVolume(const Replica& source, const Replica& target,
                                              const VolumeSpec& volume) override;

  // Runs one operation of the plug-in: the protocol itself, public for tests.
  absl::StatusOr<nlohmann::json> Call(const std::string& operation, nlohmann::json request);

 private:
  const GroupSpec group_;
  const ExecProviderSettings settings_;
  const ProviderEnvironment environment_;
};

}  // namespace shadowfleet

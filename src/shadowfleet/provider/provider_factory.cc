#include "shadowfleet/common/clock.h"
#include "shadowfleet/provider/exec_provider.h"
#include "shadowfleet/provider/process_provider.h"
#include "shadowfleet/provider/provider.h"
#include "shadowfleet/provider/sim_provider.h"

namespace shadowfleet {

const char* ReplicaPhaseName(ReplicaPhase phase) {
  switch (phase) {
    case ReplicaPhase::kBuilding:
      return "building";
    case ReplicaPhase::kRunning:
      return "running";
    case ReplicaPhase::kFailed:
      return "failed";
    case ReplicaPhase::kGone:
      return "gone";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<Provider>> MakeProvider(const GroupSpec& group,
                                                       const ProviderEnvironment& environment) {
  if (environment.clock == nullptr) {
    return absl::InvalidArgumentError("providers need a clock");
  }
  if (std::holds_alternative<ProcessProviderSettings>(group.provider.settings) &&
      group.provider.name == "process") {
    return std::make_unique<ProcessProvider>(group, environment);
  }
  if (std::holds_alternative<SimProviderSettings>(group.provider.settings) &&
      group.provider.name == "sim") {
    if (environment.sim_cloud == nullptr) {
      return absl::InvalidArgumentError("the sim provider needs a simulated cloud");
    }
    return std::make_unique<SimProvider>(group, environment.sim_cloud);
  }
  if (std::holds_alternative<ExecProviderSettings>(group.provider.settings) &&
      group.provider.name == "exec") {
    return std::make_unique<ExecProvider>(group, environment);
  }
  return absl::InvalidArgumentError("group " + group.name + ": unknown provider \"" +
                                    group.provider.name + "\"");
}

}  // namespace shadowfleet

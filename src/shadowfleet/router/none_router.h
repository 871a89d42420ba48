// The "none" router, for groups whose traffic is not shadowfleet's to move: the provider
// switches it itself (the simulated fleet does), or nothing routes to the group. It accepts
// every operation and remembers what it was told, so that Read() reports the weights the
// switchover controller last set, as a real balancer would.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

#include "shadowfleet/router/router.h"

namespace shadowfleet {

// Thread-safe. State lives in memory only and starts empty with each router.
class NoneRouter : public Router {
 public:
  const char* name() const override { return "none"; }
  absl::Status Ensure(const Backend& backend, int weight_percent) override;
  absl::Status SetWeights(const std::vector<std::pair<Backend, int>>& weights) override;
  absl::Status Drain(const Backend& backend) override;
  absl::Status Remove(const Backend& backend) override;
  absl::StatusOr<std::vector<BackendState>> Read(const std::vector<Backend>& backends) override;

 private:
  absl::Mutex mu_;
  std::map<std::string, BackendState> backends_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shadowfleet

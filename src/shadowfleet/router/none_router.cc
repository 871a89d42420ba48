#include "shadowfleet/router/none_router.h"

namespace shadowfleet {

absl::Status NoneRouter::Ensure(const Backend& backend, int weight_percent) {
  absl::MutexLock lock(&mu_);
  backends_[backend.name] = BackendState{.name = backend.name,
                                         .address = backend.address,
                                         .weight_percent = weight_percent,
                                         .draining = false,
                                         .present = true};
  return absl::OkStatus();
}

absl::Status NoneRouter::SetWeights(const std::vector<std::pair<Backend, int>>& weights) {
  absl::MutexLock lock(&mu_);
  for (const auto& [backend, percent] : weights) {
    BackendState& state = backends_[backend.name];
    state.name = backend.name;
    state.address = backend.address;
    state.weight_percent = percent;
    state.present = true;
  }
  return absl::OkStatus();
}

absl::Status NoneRouter::Drain(const Backend& backend) {
  absl::MutexLock lock(&mu_);
  BackendState& state = backends_[backend.name];
  state.name = backend.name;
  state.address = backend.address;
  state.draining = true;
  state.present = true;
  return absl::OkStatus();
}

absl::Status NoneRouter::Remove(const Backend& backend) {
  absl::MutexLock lock(&mu_);
  backends_.erase(backend.name);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<BackendState>> NoneRouter::Read(const std::vector<Backend>& backends) {
  absl::MutexLock lock(&mu_);
  std::vector<BackendState> out;
  for (const Backend& backend : backends) {
    auto it = backends_.find(backend.name);
    out.push_back(it != backends_.end() ? it->second
                                        : BackendState{.name = backend.name, .present = false});
  }
  return out;
}

}  // namespace shadowfleet

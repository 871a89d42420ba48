#include "shadowfleet/common/backoff.h"

#include <algorithm>

namespace shadowfleet {

absl::Duration BackoffDelay(const BackoffPolicy& policy, int failures, uint64_t salt) {
  int exponent = std::clamp(failures - 1, 0, 30);
  absl::Duration delay = std::min(policy.initial * (int64_t{1} << exponent), policy.max);
  // A splitmix64 step turns the salt into a well-spread jitter in [0.8, 1.2).
  uint64_t z = salt + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  double jitter = 0.8 + 0.4 * static_cast<double>(z >> 11) / static_cast<double>(1ULL << 53);
  return std::min(delay * jitter, policy.max);
}

}  // namespace shadowfleet

// Exponential backoff with jitter for retrying a failing key, as controllers requeue a key
// that failed: initial * 2^(failures-1), capped, spread by +-20 % so that many keys failing
// together do not retry in lock-step.
#pragma once

#include <cstdint>

#include "absl/time/time.h"

namespace shadowfleet {

struct BackoffPolicy {
  absl::Duration initial = absl::Seconds(1);
  absl::Duration max = absl::Minutes(5);
};

// The delay before the next attempt after `failures` consecutive failures (>= 1). `salt`
// picks the jitter deterministically (e.g. a hash of the key and the failure count), so that
// runs on a fake clock are reproducible.
absl::Duration BackoffDelay(const BackoffPolicy& policy, int failures, uint64_t salt);

}  // namespace shadowfleet

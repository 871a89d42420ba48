// Keeps each shadow's copy of its instance's data volumes fresh: on every volume's interval,
// asks the provider to bring the shadow's copy up to date with live's and records how fresh
// the copy is (VolumeStatus), which readiness compares with the volume's allowed lag.
//
// Runs on its own thread in the daemon, so that a long copy never holds up reconciliation.
// Only this component writes volume status objects.
#pragma once

#include <map>
#include <string>

#include "shadowfleet/common/clock.h"
#include "shadowfleet/fleet/fleet_state.h"
#include "shadowfleet/metrics/metrics.h"
#include "shadowfleet/provider/provider_set.h"

namespace shadowfleet {

struct VolumePassStats {
  int synced = 0;
  int failed = 0;
  int64_t bytes_copied = 0;
};

class VolumeSyncer {
 public:
  VolumeSyncer(FleetState* state, ProviderSet* providers, Clock* clock, Metrics* metrics,
               int workers = 2);

  // Syncs every volume whose interval has passed. Safe to call at any rate.
  VolumePassStats SyncDue();

 private:
  FleetState* const state_;
  ProviderSet* const providers_;
  Clock* const clock_;
  Metrics* const metrics_;
  const int workers_;
};

}  // namespace shadowfleet

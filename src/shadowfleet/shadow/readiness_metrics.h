// Readiness as Prometheus gauges, computed from the state view at scrape time: fleet-wide
// figures always, and per-instance ones for fleets up to a size limit (per-instance series
// for 100,000 instances would swamp most Prometheus servers).
#pragma once

#include <prometheus/collectable.h>

#include <memory>

#include "shadowfleet/common/clock.h"
#include "shadowfleet/fleet/fleet_state.h"
#include "shadowfleet/shadow/readiness.h"

namespace shadowfleet {

std::shared_ptr<prometheus::Collectable> MakeReadinessCollector(const FleetState* state,
                                                                Clock* clock,
                                                                VersionTimeFn version_time,
                                                                int per_instance_limit);

}  // namespace shadowfleet

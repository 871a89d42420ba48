// The telemetry part of the API: pushing metrics for an instance and reading its features.
//
//   POST /api/v1/telemetry/ID          exposition-format body; answers what was accepted and
//                                      what was rejected, by reason, with the first problems
//   GET  /api/v1/instances/ID/features  the latest value of each feature, and with ?history=F
//                                      the recent samples of feature F
#pragma once

#include "shadowfleet/api/api_server.h"
#include "shadowfleet/common/clock.h"
#include "shadowfleet/telemetry/telemetry_engine.h"

namespace shadowfleet {

void AddTelemetryRoutes(ApiServer& server, TelemetryEngine* telemetry, Clock* clock);

}  // namespace shadowfleet

// The switchover part of the API.
//
//   POST /api/v1/switchovers                   {"instance", "reason", "strategy"?}: start one
//   POST /api/v1/switchovers/refresh           {"group", "reason"}: one for every instance,
//                                              admitted as the disruption budget allows
//   GET  /api/v1/switchovers?all=true          active ones (or all)
//   GET  /api/v1/switchovers/ID                one, with every judgement and its numbers
//   POST /api/v1/switchovers/ID/ACTION         pause, resume, promote or abort {"reason"}
#pragma once

#include "shadowfleet/api/api_server.h"
#include "shadowfleet/fleet/fleet_state.h"
#include "shadowfleet/switchover/switchover_controller.h"

namespace shadowfleet {

void AddSwitchoverRoutes(ApiServer& server, SwitchoverController* controller, FleetState* state,
                         std::function<void()> nudge);

}  // namespace shadowfleet

// The prediction part of the API.
//
//   GET  /api/v1/risk                       every instance's risk, recommendation, factors
//   GET  /api/v1/instances/ID/risk          one instance's, with its recent history
//   POST /api/v1/instances/ID/failures      {"kind", "reason"}: report a failure (a label)
//   GET  /api/v1/models                     the risk model versions; which one serves
//   POST /api/v1/models/retrain             train a candidate now and promote it if no worse
#pragma once

#include "shadowfleet/api/api_server.h"
#include "shadowfleet/prediction/model_registry.h"
#include "shadowfleet/prediction/risk_engine.h"

namespace shadowfleet {

void AddRiskRoutes(ApiServer& server, RiskEngine* engine, ModelRegistry* registry);

}  // namespace shadowfleet

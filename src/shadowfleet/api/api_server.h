// The daemon's HTTP server: the JSON API under /api/v1, Prometheus metrics at /metrics and a
// liveness probe at /healthz. Routes are thin: they parse and validate the request, call
// FleetService and map its status to an HTTP code with a JSON error body:
//   {"error": {"code": "INVALID_ARGUMENT", "message": "...", "details": [...]}}
//
// Thread-safe; requests are served by the server's own worker threads.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"

#include "shadowfleet/api/fleet_service.h"
#include "shadowfleet/metrics/metrics.h"

namespace shadowfleet {

class ApiServer {
 public:
  ApiServer(FleetService* service, Metrics* metrics);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds host:port (port 0 picks a free one), starts serving on a background thread and
  // returns the bound port once the server accepts connections.
  absl::StatusOr<int> Start(const std::string& host, int port);

  // Stops accepting requests and waits for the serving thread. Idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The HTTP status for a status code.
int HttpStatusFor(const absl::Status& status);
const char* StatusCodeName(absl::StatusCode code);

}  // namespace shadowfleet

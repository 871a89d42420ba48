// The daemon's HTTP server: the JSON API under /api/v1, Prometheus metrics at /metrics and a
// liveness probe at /healthz. Routes are thin: they parse and validate the request, call
// FleetService and map its status to an HTTP code with a JSON error body:
//   {"error": {"code": "INVALID_ARGUMENT", "message": "...", "details": [...]}}
//
// Thread-safe; requests are served by the server's own worker threads.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "shadowfleet/api/fleet_service.h"
#include "shadowfleet/metrics/metrics.h"

namespace shadowfleet {

// A request as a route handler sees it (the HTTP library stays inside the server).
struct ApiRequest {
  std::vector<std::string> params;  // The route pattern's capture groups, in order.
  std::map<std::string, std::string> query;
  std::string body;
  std::string author;  // X-Shadowfleet-Author header, else ?author=, else "api".

  // An integer query parameter; INVALID_ARGUMENT naming it when malformed or negative.
  absl::StatusOr<int64_t> IntQuery(const std::string& name, int64_t fallback) const;
  std::string StringQuery(const std::string& name, const std::string& fallback = "") const;
  // The body as JSON; INVALID_ARGUMENT with the parser's position when it is not.
  absl::StatusOr<nlohmann::json> Json() const;
};

using ApiHandler = std::function<absl::StatusOr<nlohmann::json>(const ApiRequest&)>;

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

  // Adds a route: `method` is GET, POST, PUT or DELETE; `pattern` a regular expression that
  // must match the whole path. Components add their own API this way. Call before Start().
  void Route(const std::string& method, const std::string& pattern, ApiHandler handler);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The HTTP status for a status code.
int HttpStatusFor(const absl::Status& status);
const char* StatusCodeName(absl::StatusCode code);

}  // namespace shadowfleet

// The CLI's client for the daemon's HTTP API. Error responses become statuses carrying the
// daemon's message and details, so the CLI can print exactly what the daemon said.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include <nlohmann/json.hpp>

namespace shadowfleet {

class ApiClient {
 public:
  // `server` is "host:port" or "http://host:port".
  static absl::StatusOr<ApiClient> Connect(const std::string& server);

  absl::StatusOr<nlohmann::json> Get(const std::string& path) const;
  absl::StatusOr<nlohmann::json> Post(const std::string& path, const std::string& body,
                                      const std::string& content_type) const;
  absl::StatusOr<nlohmann::json> Delete(const std::string& path) const;

  const std::string& address() const { return address_; }

 private:
  ApiClient(std::string host, int port);
  absl::StatusOr<nlohmann::json> Call(const std::string& method, const std::string& path,
                                      const std::string& body,
                                      const std::string& content_type) const;

  std::string host_;
  int port_ = 0;
  std::string address_;
};

// Percent-encodes a path segment or query value.
std::string UrlEncode(const std::string& text);

}  // namespace shadowfleet

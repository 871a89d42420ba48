// A minimal blocking HTTP client for health checks, scrapes and the CLI. It hides
// cpp-httplib, whose header must stay out of widely included headers (it defines macros that
// break other libraries and is slow to compile).
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace shadowfleet {

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string content_type;
};

struct HttpRequestOptions {
  absl::Duration connect_timeout = absl::Seconds(1);
  absl::Duration read_timeout = absl::Seconds(5);
  std::map<std::string, std::string> headers;
};

// Issues one request to http://host:port/path. Transport failures (refused, timed out) are
// UNAVAILABLE with the reason; any HTTP status, including 5xx, is a response.
absl::StatusOr<HttpResponse> HttpRequest(const std::string& method, const std::string& host,
                                         int port, const std::string& path,
                                         const std::string& body = "",
                                         const std::string& content_type = "",
                                         const HttpRequestOptions& options = {});

// Splits "host:port" (or "http://host:port") into its parts.
absl::StatusOr<std::pair<std::string, int>> ParseHostPort(const std::string& address);

}  // namespace shadowfleet

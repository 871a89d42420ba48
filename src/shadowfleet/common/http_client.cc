#include "shadowfleet/common/http_client.h"

#include <httplib.h>

#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace shadowfleet {
namespace {

void SetTimeout(httplib::Client& client, absl::Duration connect, absl::Duration read) {
  auto micros = [](absl::Duration d) { return absl::ToInt64Microseconds(d); };
  client.set_connection_timeout(micros(connect) / 1'000'000, micros(connect) % 1'000'000);
  client.set_read_timeout(micros(read) / 1'000'000, micros(read) % 1'000'000);
  client.set_write_timeout(micros(read) / 1'000'000, micros(read) % 1'000'000);
}

}  // namespace

absl::StatusOr<HttpResponse> HttpRequest(const std::string& method, const std::string& host,
                                         int port, const std::string& path, const std::string& body,
                                         const std::string& content_type,
                                         const HttpRequestOptions& options) {
  httplib::Client client(host, port);
  SetTimeout(client, options.connect_timeout, options.read_timeout);
  httplib::Headers headers(options.headers.begin(), options.headers.end());
  auto send = [&]() -> std::optional<httplib::Result> {
    if (method == "GET") {
      return client.Get(path, headers);
    }
    if (method == "POST") {
      return client.Post(path, headers, body, content_type);
    }
    if (method == "PUT") {
      return client.Put(path, headers, body, content_type);
    }
    if (method == "DELETE") {
      return client.Delete(path, headers, body, content_type);
    }
    return std::nullopt;
  };
  std::optional<httplib::Result> sent = send();
  if (!sent) {
    return absl::InvalidArgumentError("unsupported HTTP method " + method);
  }
  httplib::Result& result = *sent;
  if (!result) {
    return absl::UnavailableError(absl::StrCat(method, " http://", host, ":", port, path, ": ",
                                               httplib::to_string(result.error())));
  }
  return HttpResponse{result->status, result->body, result->get_header_value("Content-Type")};
}

absl::StatusOr<std::pair<std::string, int>> ParseHostPort(const std::string& address) {
  std::string rest = address;
  if (rest.rfind("http://", 0) == 0) {
    rest = rest.substr(7);
  }
  while (!rest.empty() && rest.back() == '/') {
    rest.pop_back();
  }
  size_t colon = rest.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(rest.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError("expected host:port, got \"" + address + "\"");
  }
  return std::make_pair(rest.substr(0, colon), port);
}

}  // namespace shadowfleet

#include "shadowfleet/cli/api_client.h"

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/http_client.h"
#include "shadowfleet/common/status_macros.h"

namespace shadowfleet {

absl::StatusOr<ApiClient> ApiClient::Connect(const std::string& server) {
  SF_ASSIGN_OR_RETURN(auto host_port, ParseHostPort(server));
  return ApiClient(host_port.first, host_port.second);
}

ApiClient::ApiClient(std::string host, int port)
    : host_(std::move(host)), port_(port), address_(absl::StrCat(host_, ":", port_)) {}

absl::StatusOr<nlohmann::json> ApiClient::Get(const std::string& path) const {
  return Call("GET", path, "", "");
}

absl::StatusOr<nlohmann::json> ApiClient::Post(const std::string& path, const std::string& body,
                                               const std::string& content_type) const {
  return Call("POST", path, body, content_type);
}

absl::StatusOr<nlohmann::json> ApiClient::Delete(const std::string& path) const {
  return Call("DELETE", path, "", "");
}

absl::StatusOr<nlohmann::json> ApiClient::Call(const std::string& method, const std::string& path,
                                               const std::string& body,
                                               const std::string& content_type) const {
  HttpRequestOptions options;
  options.connect_timeout = absl::Seconds(3);
  options.read_timeout = absl::Seconds(60);
  absl::StatusOr<HttpResponse> response =
      HttpRequest(method, host_, port_, path, body, content_type, options);
  if (!response.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot reach the shadowfleet daemon at ", address_,
                                               ": ", response.status().message()));
  }
  nlohmann::json parsed = nlohmann::json::parse(response->body, nullptr, false);
  if (response->status >= 200 && response->status < 300) {
    if (parsed.is_discarded()) {
      return absl::InternalError("the daemon sent a response that is not JSON");
    }
    return parsed;
  }
  std::string message = absl::StrCat("HTTP ", response->status);
  absl::StatusCode code = absl::StatusCode::kUnknown;
  if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object()) {
    const nlohmann::json& error = parsed["error"];
    message = error.value("message", message);
    std::string name = error.value("code", "");
    if (name == "INVALID_ARGUMENT") {
      code = absl::StatusCode::kInvalidArgument;
    } else if (name == "NOT_FOUND") {
      code = absl::StatusCode::kNotFound;
    } else if (name == "FAILED_PRECONDITION" || name == "ABORTED") {
      code = absl::StatusCode::kFailedPrecondition;
    }
  }
  return absl::Status(code, message);
}

std::string UrlEncode(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace shadowfleet

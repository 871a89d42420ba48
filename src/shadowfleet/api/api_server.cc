#include "shadowfleet/api/api_server.h"

#include <fcntl.h>
#include <httplib.h>
#include <sys/socket.h>

#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "shadowfleet/common/logging.h"

namespace shadowfleet {
namespace {

constexpr size_t kMaxBody = 8 * 1024 * 1024;
constexpr char kJson[] = "application/json";

void SendJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(2) + "\n", kJson);
}

void SendError(httplib::Response& res, const absl::Status& status,
               const nlohmann::json& details = nlohmann::json::array()) {
  SendJson(res, HttpStatusFor(status),
           {{"error",
             {{"code", StatusCodeName(status.code())},
              {"message", std::string(status.message())},
              {"details", details}}}});
}

void Send(httplib::Response& res, const absl::StatusOr<nlohmann::json>& result) {
  if (result.ok()) {
    SendJson(res, 200, *result);
  } else {
    SendError(res, result.status());
  }
}

// Reads an integer query parameter, with a clear error naming it when malformed.
absl::StatusOr<int64_t> IntParam(const httplib::Request& req, const std::string& name,
                                 int64_t fallback) {
  if (!req.has_param(name.c_str())) {
    return fallback;
  }
  std::string text = req.get_param_value(name.c_str());
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "query parameter ", name, ": expected a non-negative integer, got \"", text, "\""));
  }
  return value;
}

absl::StatusOr<int64_t> PathInt(const httplib::Request& req, int index, const std::string& name) {
  std::string text = req.matches[index];
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": expected a positive integer, got \"", text, "\""));
  }
  return value;
}

absl::StatusOr<nlohmann::json> JsonBody(const httplib::Request& req) {
  try {
    return nlohmann::json::parse(req.body);
  } catch (const nlohmann::json::parse_error& e) {
    // The library's message names the byte offset and what it expected there.
    return absl::InvalidArgumentError(absl::StrCat("request body is not valid JSON: ", e.what()));
  }
}

std::string Author(const httplib::Request& req) {
  if (req.has_header("X-Shadowfleet-Author")) {
    return req.get_header_value("X-Shadowfleet-Author");
  }
  return req.has_param("author") ? req.get_param_value("author") : "api";
}

}  // namespace

absl::StatusOr<int64_t> ApiRequest::IntQuery(const std::string& name, int64_t fallback) const {
  auto it = query.find(name);
  if (it == query.end()) {
    return fallback;
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(it->second, &value) || value < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "query parameter ", name, ": expected a non-negative integer, got \"", it->second, "\""));
  }
  return value;
}

std::string ApiRequest::StringQuery(const std::string& name, const std::string& fallback) const {
  auto it = query.find(name);
  return it == query.end() ? fallback : it->second;
}

absl::StatusOr<nlohmann::json> ApiRequest::Json() const {
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat("request body is not valid JSON: ", e.what()));
  }
}

int HttpStatusFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kFailedPrecondition:
      return 409;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

const char* StatusCodeName(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return "OK";
    case absl::StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case absl::StatusCode::kNotFound:
      return "NOT_FOUND";
    case absl::StatusCode::kAlreadyExists:
      return "ALREADY_EXISTS";
    case absl::StatusCode::kAborted:
      return "ABORTED";
    case absl::StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case absl::StatusCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case absl::StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case absl::StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case absl::StatusCode::kDataLoss:
      return "DATA_LOSS";
    default:
      return "INTERNAL";
  }
}

struct ApiServer::Impl {
  FleetService* service;
  Metrics* metrics;
  httplib::Server server;
  std::thread thread;

  void Routes();
};

void ApiServer::Impl::Routes() {
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics->Serialize(), "text/plain; version=0.0.4");
  });
  server.Get("/api/v1/status", [this](const httplib::Request&, httplib::Response& res) {
    Send(res, service->Status());
  });
  server.Get("/api/v1/fleets", [this](const httplib::Request&, httplib::Response& res) {
    Send(res, service->Fleets());
  });
  server.Delete(R"(/api/v1/fleets/([^/]+))",
                [this](const httplib::Request& req, httplib::Response& res) {
                  Send(res, service->DeleteFleet(req.matches[1], Author(req)));
                });
  server.Post("/api/v1/apply", [this](const httplib::Request& req, httplib::Response& res) {
    std::string file = req.has_param("file") ? req.get_param_value("file") : "request";
    std::vector<SpecError> errors;
    absl::StatusOr<nlohmann::json> result = service->Apply(req.body, file, Author(req), &errors);
    if (!result.ok()) {
      nlohmann::json details = nlohmann::json::array();
      for (const SpecError& e : errors) {
        details.push_back(e.ToJson());
      }
      SendError(res, result.status(), details);
      return;
    }
    SendJson(res, 200, *result);
  });
  server.Get("/api/v1/instances", [this](const httplib::Request&, httplib::Response& res) {
    Send(res, service->Instances());
  });
  server.Get(R"(/api/v1/instances/([^/]+))",
             [this](const httplib::Request& req, httplib::Response& res) {
               Send(res, service->Instance(req.matches[1]));
             });
  server.Get("/api/v1/readiness", [this](const httplib::Request&, httplib::Response& res) {
    Send(res, service->GetReadiness());
  });
  server.Get(R"(/api/v1/instances/([^/]+)/readiness)",
             [this](const httplib::Request& req, httplib::Response& res) {
               Send(res, service->GetInstanceReadiness(req.matches[1]));
             });
  server.Get(R"(/api/v1/instances/([^/]+)/versions)",
             [this](const httplib::Request& req, httplib::Response& res) {
               auto from = IntParam(req, "from", 1);
               auto to = IntParam(req, "to", 0);
               auto limit = IntParam(req, "limit", 100);
               for (const auto* p : {&from, &to, &limit}) {
                 if (!p->ok()) {
                   SendError(res, p->status());
                   return;
                 }
               }
               Send(res, service->Versions(req.matches[1], *from, *to, static_cast<int>(*limit)));
             });
  server.Get(R"(/api/v1/instances/([^/]+)/versions/([^/]+))",
             [this](const httplib::Request& req, httplib::Response& res) {
               absl::StatusOr<int64_t> version = PathInt(req, 2, "version");
               if (!version.ok()) {
                 SendError(res, version.status());
                 return;
               }
               Send(res, service->Version(req.matches[1], *version));
             });
  server.Post(R"(/api/v1/instances/([^/]+)/versions/([^/]+)/tested)",
              [this](const httplib::Request& req, httplib::Response& res) {
                absl::StatusOr<int64_t> version = PathInt(req, 2, "version");
                if (!version.ok()) {
                  SendError(res, version.status());
                  return;
                }
                Send(res, service->MarkTested(req.matches[1], *version, Author(req)));
              });
  server.Get(R"(/api/v1/instances/([^/]+)/diff)", [this](const httplib::Request& req,
                                                         httplib::Response& res) {
    auto from = IntParam(req, "from", 0);
    auto to = IntParam(req, "to", 0);
    if (!from.ok() || !to.ok() || *from == 0 || *to == 0) {
      SendError(res, !from.ok() ? from.status()
                     : !to.ok()
                         ? to.status()
                         : absl::InvalidArgumentError("query parameters from and to are required"));
      return;
    }
    Send(res, service->Diff(req.matches[1], *from, *to));
  });
  server.Get(R"(/api/v1/instances/([^/]+)/shadow-delta)",
             [this](const httplib::Request& req, httplib::Response& res) {
               Send(res, service->ShadowDelta(req.matches[1]));
             });
  server.Post(R"(/api/v1/instances/([^/]+)/compact)",
              [this](const httplib::Request& req, httplib::Response& res) {
                RetentionPolicy policy;
                auto keep = IntParam(req, "keepVersions", policy.keep_versions);
                auto days = IntParam(req, "keepDays", 30);
                if (!keep.ok() || !days.ok()) {
                  SendError(res, !keep.ok() ? keep.status() : days.status());
                  return;
                }
                policy.keep_versions = std::max<int64_t>(1, *keep);
                policy.keep_for = absl::Hours(24 * *days);
                Send(res, service->Compact(req.matches[1], policy));
              });
  server.Post(R"(/api/v1/instances/([^/]+)/verify)",
              [this](const httplib::Request& req, httplib::Response& res) {
                Send(res, service->Verify(req.matches[1]));
              });
  server.Post("/api/v1/changes", [this](const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<nlohmann::json> body = JsonBody(req);
    if (!body.ok()) {
      SendError(res, body.status());
      return;
    }
    if (body->is_object() && !body->contains("author")) {
      (*body)["author"] = Author(req);
    }
    absl::StatusOr<ChangeRequest> change = ChangeRequest::FromJson(*body);
    if (!change.ok()) {
      SendError(res, change.status());
      return;
    }
    Send(res, service->RecordChange(*change));
  });
  server.Get("/api/v1/events", [this](const httplib::Request& req, httplib::Response& res) {
    EventQuery query;
    auto after = IntParam(req, "after", 0);
    auto limit = IntParam(req, "limit", 100);
    if (!after.ok() || !limit.ok()) {
      SendError(res, !after.ok() ? after.status() : limit.status());
      return;
    }
    query.after_id = *after;
    query.limit = static_cast<int>(std::clamp<int64_t>(*limit, 1, 10'000));
    query.subject = req.has_param("subject") ? req.get_param_value("subject") : "";
    query.kind_prefix = req.has_param("kind") ? req.get_param_value("kind") : "";
    Send(res, service->Events(query));
  });
}

ApiServer::ApiServer(FleetService* service, Metrics* metrics) : impl_(std::make_unique<Impl>()) {
  impl_->service = service;
  impl_->metrics = metrics;
  impl_->server.set_payload_max_length(kMaxBody);
  // httplib's default sets SO_REUSEPORT, which would let a second daemon bind the same port
  // silently and share its traffic. Only SO_REUSEADDR (fast restart), and no inheritance.
  impl_->server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    fcntl(sock, F_SETFD, FD_CLOEXEC);
  });
  impl_->server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unexpected error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        Logger("api")->error("request failed with an exception error={}", what);
        SendError(res, absl::InternalError(what));
      });
  impl_->server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.body.empty()) {
      SendJson(res, res.status,
               {{"error",
                 {{"code", res.status == 404 ? "NOT_FOUND" : "INVALID_ARGUMENT"},
                  {"message", absl::StrCat("no route for ", req.method, " ", req.path)},
                  {"details", nlohmann::json::array()}}}});
    }
  });
  impl_->server.set_logger([metrics](const httplib::Request& req, const httplib::Response& res) {
    if (metrics != nullptr) {
      metrics->ApiRequests(req.method, absl::StrCat(res.status)).Increment();
    }
  });
  impl_->Routes();
}

ApiServer::~ApiServer() {
  Stop();
}

absl::StatusOr<int> ApiServer::Start(const std::string& host, int port) {
  int bound = port == 0 ? impl_->server.bind_to_any_port(host)
                        : (impl_->server.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", host, ":", port, " (address in use or not available)"));
  }
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  // httplib 0.11 has no wait-until-ready: poll until the accept loop runs.
  for (int i = 0; i < 500 && !impl_->server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  Logger("api")->info("api listening address={}:{}", host, bound);
  return bound;
}

void ApiServer::Route(const std::string& method, const std::string& pattern, ApiHandler handler) {
  auto serve = [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    ApiRequest request;
    for (size_t i = 1; i < req.matches.size(); ++i) {
      request.params.push_back(req.matches[i]);
    }
    for (const auto& [key, value] : req.params) {
      request.query[key] = value;
    }
    request.body = req.body;
    request.author = Author(req);
    Send(res, handler(request));
  };
  if (method == "GET") {
    impl_->server.Get(pattern, serve);
  } else if (method == "POST") {
    impl_->server.Post(pattern, serve);
  } else if (method == "PUT") {
    impl_->server.Put(pattern, serve);
  } else if (method == "DELETE") {
    impl_->server.Delete(pattern, serve);
  }
}

void ApiServer::Stop() {
  if (impl_->thread.joinable()) {
    impl_->server.stop();
    impl_->thread.join();
  }
}

}  // namespace shadowfleet

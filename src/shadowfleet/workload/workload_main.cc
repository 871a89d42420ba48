// shadowfleet-workload: a small HTTP service shipped for demos and tests. It serves
// requests, exports Prometheus metrics in the names real servers use (request counts by
// code, a latency histogram, resident memory, its data volume's fill), reads its
// configuration from the JSON file the process provider renders (reloaded on SIGHUP), writes
// to a data directory so that a shadow's volume copy has something to follow, and can be
// told to degrade the way real services do (see degradation.h).
//
//   shadowfleet-workload --port 8080 --config config.json [--data DIR]
//
// Endpoints: / (a greeting naming the instance), /healthz, /metrics, /config, and
// /admin/degrade (GET the current degradation, POST {"mode": ...} to start one, DELETE to
// stop it). Configuration values read from config.config: message, healthy, memoryLimitMb,
// diskQuotaMb.
#include <httplib.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "shadowfleet/workload/degradation.h"

namespace {

using shadowfleet::workload::Degradation;
using shadowfleet::workload::DegradationParams;

struct Options {
  int port = 0;
  std::string config_path;
  std::string data_dir;
};

// Request latency buckets (seconds), as Prometheus client libraries default to.
constexpr std::array<double, 11> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                             0.5,   1,    2.5,   5,    10};

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "unknown";
}

nlohmann::json LoadJson(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return nullptr;
  }
  nlohmann::json config = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  return config.is_object() ? config : nlohmann::json(nullptr);
}

class Workload {
 public:
  Workload(Options options, const nlohmann::json& config)
      : options_(std::move(options)),
        config_(config),
        degradation_(Value("memoryLimitMb", 256) << 20, Value("diskQuotaMb", 64) << 20,
                     options_.data_dir, static_cast<uint64_t>(getpid())) {}

  bool Reload() {
    nlohmann::json config = LoadJson(options_.config_path);
    if (config.is_null()) {
      std::fprintf(stderr, "workload: cannot read %s as a JSON object\n",
                   options_.config_path.c_str());
      return false;
    }
    std::lock_guard lock(mu_);
    config_ = std::move(config);
    reloads_++;
    return true;
  }

  void Serve(httplib::Server& server) {
    server.Get("/", [this](const httplib::Request&, httplib::Response& res) {
      auto start = std::chrono::steady_clock::now();
      shadowfleet::workload::RequestEffect effect = degradation_.OnRequest();
      if (effect.extra_latency_ms > 0) {
        std::this_thread::sleep_for(
            std::chrono::microseconds(static_cast<int64_t>(effect.extra_latency_ms * 1000)));
      }
      if (effect.fail) {
        res.status = 500;
        res.set_content("internal error\n", "text/plain");
      } else {
        res.set_content(Message() + " from " + Env("SHADOWFLEET_INSTANCE") + " (" +
                            Env("SHADOWFLEET_REPLICA") + ")\n",
                        "text/plain");
      }
      Observe(res.status,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    });
    server.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
      // A slow service is slow on its health check too: that is how checks catch it.
      double delay = degradation_.OnRequest().extra_latency_ms;
      if (delay > 0) {
        std::this_thread::sleep_for(
            std::chrono::microseconds(static_cast<int64_t>(std::min(delay, 5000.0) * 1000)));
      }
      bool healthy = Value("healthy", true) && degradation_.Healthy();
      res.status = healthy ? 200 : 503;
      res.set_content(healthy ? "ok\n" : "unhealthy\n", "text/plain");
    });
    server.Get("/config", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mu_);
      res.set_content(config_.dump(2), "application/json");
    });
    server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(Metrics(), "text/plain; version=0.0.4");
    });
    server.Get("/admin/degrade", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(degradation_.Status().dump(), "application/json");
    });
    server.Post("/admin/degrade", [this](const httplib::Request& req, httplib::Response& res) {
      std::string error;
      std::optional<DegradationParams> params = DegradationParams::FromJson(
          nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false), &error);
      if (!params) {
        res.status = 400;
        res.set_content(nlohmann::json{{"error", error}}.dump(), "application/json");
        return;
      }
      degradation_.Start(*params);
      std::fprintf(stderr, "workload: degradation %s started\n", req.body.c_str());
      res.set_content(degradation_.Status().dump(), "application/json");
    });
    server.Delete("/admin/degrade", [this](const httplib::Request&, httplib::Response& res) {
      degradation_.Stop();
      res.set_content(degradation_.Status().dump(), "application/json");
    });
  }

  // Advances degradations and appends to the data journal once a second.
  void Background() {
    std::unique_lock lock(stop_mu_);
    while (!stopping_) {
      degradation_.Tick();
      if (!options_.data_dir.empty()) {
        std::ofstream out(options_.data_dir + "/journal.log", std::ios::app);
        out << std::chrono::system_clock::now().time_since_epoch().count()
            << " requests=" << requests_total() << "\n";
      }
      stop_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
    }
  }

  void Stop() {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
    stop_cv_.notify_all();
  }

 private:
  template <typename T>
  T Value(const char* key, T fallback) const {
    std::lock_guard lock(mu_);
    const nlohmann::json& values = config_.value("config", nlohmann::json::object());
    return values.contains(key) ? values[key].get<T>() : fallback;
  }

  std::string Message() const { return Value<std::string>("message", "hello"); }

  void Observe(int status, double seconds) {
    (status >= 500 ? errors_ : ok_)++;
    latency_ns_ += static_cast<int64_t>(seconds * 1e9);
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      if (seconds <= kBuckets[i]) {
        buckets_[i]++;
      }
    }
  }

  int64_t requests_total() const { return ok_.load() + errors_.load(); }

  std::string Metrics() const {
    std::ostringstream out;
    out << "# TYPE http_requests_total counter\n"
        << "http_requests_total{code=\"200\"} " << ok_.load() << "\n"
        << "http_requests_total{code=\"500\"} " << errors_.load() << "\n"
        << "# TYPE http_request_duration_seconds histogram\n";
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      out << "http_request_duration_seconds_bucket{le=\"" << kBuckets[i] << "\"} "
          << buckets_[i].load() << "\n";
    }
    out << "http_request_duration_seconds_bucket{le=\"+Inf\"} " << requests_total() << "\n"
        << "http_request_duration_seconds_sum " << latency_ns_.load() / 1e9 << "\n"
        << "http_request_duration_seconds_count " << requests_total() << "\n";
    // The data volume's quota is this service's disk: a full volume is a full disk to it.
    size_t quota = static_cast<size_t>(Value("diskQuotaMb", 64)) << 20;
    size_t used = degradation_.disk_used_bytes();
    out << "# TYPE process_resident_memory_bytes gauge\n"
        << "process_resident_memory_bytes " << shadowfleet::workload::ResidentBytes() << "\n"
        << "# TYPE process_memory_limit_bytes gauge\n"
        << "process_memory_limit_bytes " << (static_cast<size_t>(Value("memoryLimitMb", 256)) << 20)
        << "\n"
        << "# TYPE node_filesystem_size_bytes gauge\n"
        << "node_filesystem_size_bytes{mountpoint=\"/\"} " << quota << "\n"
        << "# TYPE node_filesystem_avail_bytes gauge\n"
        << "node_filesystem_avail_bytes{mountpoint=\"/\"} " << (quota > used ? quota - used : 0)
        << "\n"
        << "# TYPE workload_config_reloads_total counter\n"
        << "workload_config_reloads_total " << reloads_.load() << "\n";
    return out.str();
  }

  const Options options_;
  mutable std::mutex mu_;
  nlohmann::json config_;
  Degradation degradation_;
  std::atomic<int64_t> ok_{0};
  std::atomic<int64_t> errors_{0};
  std::atomic<int64_t> latency_ns_{0};
  std::array<std::atomic<int64_t>, kBuckets.size()> buckets_{};
  std::atomic<int64_t> reloads_{0};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
};

bool ParseArgs(int argc, char** argv, Options& options) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--port") {
      options.port = std::atoi(value.c_str());
    } else if (flag == "--config") {
      options.config_path = value;
    } else if (flag == "--data") {
      options.data_dir = value;
    } else {
      std::fprintf(stderr, "workload: unknown flag %s\n", flag.c_str());
      return false;
    }
  }
  if (argc % 2 == 0 || options.port <= 0 || options.config_path.empty()) {
    std::fprintf(stderr, "usage: shadowfleet-workload --port PORT --config FILE [--data DIR]\n");
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseArgs(argc, argv, options)) {
    return 2;
  }
  nlohmann::json config = LoadJson(options.config_path);
  if (config.is_null()) {
    std::fprintf(stderr, "workload: cannot read %s as a JSON object\n",
                 options.config_path.c_str());
    return 1;
  }
  if (!options.data_dir.empty()) {
    std::filesystem::create_directories(options.data_dir);
  }
  Workload workload(options, config);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  httplib::Server server;
  // Without SO_REUSEPORT (httplib's default), so that a port collision fails loudly.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // Without it every response waits for the client's delayed ACK (about 40 ms).
  server.set_tcp_nodelay(true);
  // Enough threads that slow requests (a latency degradation) do not starve the rest.
  server.new_task_queue = [] { return new httplib::ThreadPool(64); };
  workload.Serve(server);
  if (!server.bind_to_port("127.0.0.1", options.port)) {
    std::fprintf(stderr, "workload: cannot listen on port %d\n", options.port);
    return 1;
  }
  std::thread serving([&server] { server.listen_after_bind(); });
  std::thread background([&] { workload.Background(); });
  std::printf("workload listening on 127.0.0.1:%d\n", options.port);
  std::fflush(stdout);

  while (true) {
    int received = 0;
    sigwait(&signals, &received);
    if (received == SIGHUP) {
      workload.Reload();
      std::printf("workload: configuration reloaded\n");
      std::fflush(stdout);
      continue;
    }
    break;
  }
  workload.Stop();
  server.stop();
  serving.join();
  background.join();
  return 0;
}

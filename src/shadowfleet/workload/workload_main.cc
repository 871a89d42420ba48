// shadowfleet-workload: a small HTTP service shipped for demos and tests. It serves
// requests, exports Prometheus metrics, reads its configuration from the JSON file the
// process provider renders (reloaded on SIGHUP) and writes to a data directory, so that a
// shadow's volume copy has something to follow.
//
//   shadowfleet-workload --port 8080 --config config.json [--data DIR]
//
// Endpoints: / (a greeting naming the instance and its configuration), /healthz, /metrics,
// /config (the configuration as loaded).
#include <httplib.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

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

namespace {

struct Options {
  int port = 0;
  std::string config_path;
  std::string data_dir;
};

class Workload {
 public:
  explicit Workload(Options options) : options_(std::move(options)) {}

  bool LoadConfig() {
    std::ifstream in(options_.config_path);
    if (!in) {
      std::fprintf(stderr, "workload: cannot read %s\n", options_.config_path.c_str());
      return false;
    }
    nlohmann::json config = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!config.is_object()) {
      std::fprintf(stderr, "workload: %s is not a JSON object\n", options_.config_path.c_str());
      return false;
    }
    std::lock_guard lock(mu_);
    config_ = std::move(config);
    reloads_++;
    return true;
  }

  nlohmann::json Config() const {
    std::lock_guard lock(mu_);
    return config_;
  }

  void Serve(httplib::Server& server) {
    server.Get("/", [this](const httplib::Request&, httplib::Response& res) {
      auto start = std::chrono::steady_clock::now();
      nlohmann::json config = Config();
      const nlohmann::json& values = config.value("config", nlohmann::json::object());
      std::string message = values.value("message", std::string("hello"));
      res.set_content(message + " from " + Env("SHADOWFLEET_INSTANCE") + " (" +
                          Env("SHADOWFLEET_REPLICA") + ")\n",
                      "text/plain");
      requests_++;
      latency_us_ += std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    });
    server.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
      nlohmann::json config = Config();
      bool healthy = config.value("config", nlohmann::json::object()).value("healthy", true);
      res.status = healthy ? 200 : 503;
      res.set_content(healthy ? "ok\n" : "unhealthy\n", "text/plain");
    });
    server.Get("/config", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(Config().dump(2), "application/json");
    });
    server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      std::ostringstream out;
      out << "# TYPE workload_requests_total counter\n"
          << "workload_requests_total " << requests_.load() << "\n"
          << "# TYPE workload_request_latency_seconds_sum counter\n"
          << "workload_request_latency_seconds_sum " << latency_us_.load() / 1e6 << "\n"
          << "# TYPE workload_config_reloads_total counter\n"
          << "workload_config_reloads_total " << reloads_.load() << "\n";
      res.set_content(out.str(), "text/plain; version=0.0.4");
    });
  }

  // Appends a line to the data directory every second: state a shadow must copy.
  void WriteData() {
    if (options_.data_dir.empty()) {
      return;
    }
    std::filesystem::create_directories(options_.data_dir);
    std::unique_lock lock(stop_mu_);
    while (!stopping_) {
      std::ofstream out(options_.data_dir + "/journal.log", std::ios::app);
      out << std::chrono::system_clock::now().time_since_epoch().count()
          << " requests=" << requests_.load() << "\n";
      out.close();
      stop_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
    }
  }

  void Stop() {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
    stop_cv_.notify_all();
  }

 private:
  static std::string Env(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? value : "unknown";
  }

  const Options options_;
  mutable std::mutex mu_;
  nlohmann::json config_ = nlohmann::json::object();
  std::atomic<int64_t> requests_{0};
  std::atomic<int64_t> latency_us_{0};
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
  Workload workload(options);
  if (!workload.LoadConfig()) {
    return 1;
  }
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
  workload.Serve(server);
  if (!server.bind_to_port("127.0.0.1", options.port)) {
    std::fprintf(stderr, "workload: cannot listen on port %d\n", options.port);
    return 1;
  }
  std::thread serving([&server] { server.listen_after_bind(); });
  std::thread writer([&] { workload.WriteData(); });
  std::printf("workload listening on 127.0.0.1:%d\n", options.port);
  std::fflush(stdout);

  while (true) {
    int received = 0;
    sigwait(&signals, &received);
    if (received == SIGHUP) {
      workload.LoadConfig();
      std::printf("workload: configuration reloaded\n");
      std::fflush(stdout);
      continue;
    }
    break;
  }
  workload.Stop();
  server.stop();
  serving.join();
  writer.join();
  return 0;
}

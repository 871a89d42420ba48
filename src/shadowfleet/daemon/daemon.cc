#include "shadowfleet/daemon/daemon.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"

#include "shadowfleet/api/risk_routes.h"
#include "shadowfleet/api/switchover_routes.h"
#include "shadowfleet/api/telemetry_routes.h"
#include "shadowfleet/common/files.h"
#include "shadowfleet/common/http_client.h"
#include "shadowfleet/common/logging.h"
#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/shadow/readiness_metrics.h"

namespace shadowfleet {

std::string ExecutableDir() {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "." : self.parent_path().string();
}

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Create(const DaemonConfig& config, Clock* clock) {
  std::error_code ec;
  std::filesystem::create_directories(config.state_dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create the state directory ", config.state_dir, ": ", ec.message()));
  }
  auto daemon = std::unique_ptr<Daemon>(new Daemon(config, clock));
  Daemon& d = *daemon;
  d.metrics_ = std::make_unique<Metrics>();
  SF_ASSIGN_OR_RETURN(d.store_,
                      SqliteStore::Open({config.sqlite_path, config.sqlite_synchronous_full}));
  d.state_ = std::make_unique<FleetState>(d.store_.get());
  d.ledger_ = std::make_unique<Ledger>(d.store_.get(), clock);
  d.sim_cloud_ = std::make_unique<SimCloud>(clock);
  ProviderEnvironment environment;
  environment.state_dir = config.state_dir;
  environment.bin_dir = config.bin_dir.empty() ? ExecutableDir() : config.bin_dir;
  environment.clock = clock;
  environment.sim_cloud = d.sim_cloud_.get();
  d.providers_ = std::make_unique<ProviderSet>(environment);

  LiveManagerOptions live;
  live.observe_interval = config.observe_interval;
  live.workers = config.workers;
  d.live_ = std::make_unique<LiveManager>(d.state_.get(), d.ledger_.get(), d.providers_.get(),
                                          clock, d.metrics_.get(), live);
  ShadowManagerOptions shadow;
  shadow.workers = config.workers;
  d.shadow_ = std::make_unique<ShadowManager>(d.state_.get(), d.ledger_.get(), d.providers_.get(),
                                              clock, d.metrics_.get(), shadow);
  d.volumes_ =
      std::make_unique<VolumeSyncer>(d.state_.get(), d.providers_.get(), clock, d.metrics_.get());
  ControlLoopOptions loop;
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  loop.holder = absl::StrCat(config.name, "@", host, ":", getpid());
  loop.interval = config.reconcile_interval;
  loop.lease_ttl = config.lease_ttl;
  loop.orphan_interval = config.orphan_collection_interval;
  d.signals_ = std::make_unique<SignalTracker>();
  d.telemetry_ = std::make_unique<TelemetryEngine>(d.state_.get(), d.store_.get(), clock,
                                                   d.metrics_.get(), d.signals_.get());
  ModelRegistryOptions registry;
  registry.horizon = config.risk_horizon;
  registry.example_interval = config.example_interval;
  registry.retrain_interval = config.retrain_interval;
  registry.check_interval = config.retrain_check_interval;
  d.registry_ = std::make_unique<ModelRegistry>(d.store_.get(), clock, registry);
  // A promoted model that no longer loads (the registry logs it) must not stop the control
  // plane: failovers and switchovers go on with the prior. Any other error, e.g. an
  // unreadable store, does stop it.
  if (absl::Status loaded = d.registry_->Load(); !loaded.ok() && !absl::IsDataLoss(loaded)) {
    return loaded;
  }
  RiskEngineOptions risk;
  risk.example_interval = config.example_interval;
  if (!config.advisories_dir.empty()) {
    SF_ASSIGN_OR_RETURN(VulnerabilityDatabase advisories,
                        VulnerabilityDatabase::LoadDirectory(config.advisories_dir));
    d.advisories_ = std::make_unique<VulnerabilityDatabase>(std::move(advisories));
    VulnerabilityDatabase* db = d.advisories_.get();
    risk.vulnerabilities = [db](const std::map<std::string, std::string>& software) {
      return db->Match(software);
    };
  }
  d.risk_ = std::make_unique<RiskEngine>(d.state_.get(), d.ledger_.get(), d.signals_.get(),
                                         d.registry_.get(), clock, d.metrics_.get(), risk);
  d.routers_ =
      std::make_unique<RouterSet>(RouterEnvironment{config.state_dir, environment.bin_dir});
  d.http_metrics_ = std::make_unique<HttpReplicaMetrics>();
  d.sim_metrics_ = std::make_unique<SimReplicaMetrics>(d.sim_cloud_.get());
  RouterSet* routers = d.routers_.get();
  ReplicaMetricsSource* http_metrics = d.http_metrics_.get();
  ReplicaMetricsSource* sim_metrics = d.sim_metrics_.get();
  SwitchoverControllerOptions switchover;
  switchover.workers = config.workers;
  d.switchovers_ = std::make_unique<SwitchoverController>(
      d.state_.get(), d.providers_.get(),
      [routers](const GroupSpec& group) { return routers->For(group); },
      [http_metrics, sim_metrics](const GroupSpec& group) {
        return group.provider.name == "sim" ? sim_metrics : http_metrics;
      },
      clock, d.metrics_.get(), switchover);
  d.loop_ = std::make_unique<ControlLoop>(d.store_.get(), d.state_.get(), d.live_.get(),
                                          d.shadow_.get(), clock, loop);
  VolumeSyncer* volumes = d.volumes_.get();
  d.loop_->AddTask("volumes", absl::Milliseconds(500), [volumes] { volumes->SyncDue(); });
  SwitchoverController* switchovers = d.switchovers_.get();
  d.loop_->AddTask("switchovers", absl::Milliseconds(250),
                   [switchovers] { switchovers->ReconcileAll(); });
  d.risk_->Connect(d.switchovers_.get(), d.shadow_.get());
  RiskEngine* engine = d.risk_.get();
  d.loop_->AddTask("risk", config.risk_interval, [engine] { engine->ScoreAll(); });
  ModelRegistry* models = d.registry_.get();
  d.loop_->AddTask("retrain", config.retrain_check_interval, [models] {
    absl::StatusOr<RetrainResult> result = models->RetrainIfDue();
    if (!result.ok()) {
      Logger("risk")->warn("retraining failed error={}", result.status().ToString());
    }
  });
  TelemetryEngine* telemetry = d.telemetry_.get();
  d.loop_->AddTask("scrape", absl::Milliseconds(200), [telemetry] { telemetry->ScrapeDue(); });
  d.loop_->AddTask("telemetry-flush", absl::Seconds(10), [telemetry] {
    if (absl::Status s = telemetry->Flush(); !s.ok()) {
      Logger("telemetry")->warn("could not persist feature history error={}", s.ToString());
    }
  });
  ControlLoop* control = d.loop_.get();
  d.service_ =
      std::make_unique<FleetService>(d.state_.get(), d.ledger_.get(), d.store_.get(), clock,
                                     d.metrics_.get(), [control] { control->Nudge(); });
  std::string holder = loop.holder;
  d.service_->SetDaemonStatus([control, holder] {
    return nlohmann::json{
        {"holder", holder}, {"leader", control->leader()}, {"iterations", control->iterations()}};
  });
  Ledger* ledger = d.ledger_.get();
  d.readiness_metrics_ = MakeReadinessCollector(
      d.state_.get(), clock,
      [ledger](const std::string& id, int64_t version) {
        absl::StatusOr<VersionInfo> info = ledger->Info(id, version);
        return info.ok() ? info->created_at : absl::InfinitePast();
      },
      config.per_instance_metrics_limit);
  d.metrics_->AddCollectable(d.readiness_metrics_);
  d.api_ = std::make_unique<ApiServer>(d.service_.get(), d.metrics_.get());
  // Only now, with every watcher of the state registered, is the stored state read.
  SF_RETURN_IF_ERROR(d.state_->Sync());
  AddTelemetryRoutes(*d.api_, d.telemetry_.get(), clock);
  AddSwitchoverRoutes(*d.api_, d.switchovers_.get(), d.state_.get(),
                      [control] { control->Nudge(); });
  AddRiskRoutes(*d.api_, d.risk_.get(), d.registry_.get());
  return daemon;
}

Daemon::~Daemon() {
  Stop();
}

std::string Daemon::address() const {
  absl::StatusOr<std::pair<std::string, int>> listen = ParseHostPort(config_.listen);
  return absl::StrCat(listen.ok() ? listen->first : "127.0.0.1", ":", port_);
}

absl::Status Daemon::Start() {
  SF_ASSIGN_OR_RETURN(auto listen, ParseHostPort(config_.listen));
  SF_ASSIGN_OR_RETURN(port_, api_->Start(listen.first, listen.second));
  loop_->Start();
  started_ = true;
  for (const std::string& path : config_.fleet_specs) {
    SF_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
    absl::StatusOr<nlohmann::json> applied = service_->Apply(text, path, "daemon-config", nullptr);
    if (!applied.ok()) {
      Stop();
      return applied.status();
    }
  }
  Logger("daemon")->info("daemon started address={} state_dir={} store={}", address(),
                         config_.state_dir, config_.sqlite_path);
  return absl::OkStatus();
}

void Daemon::Stop() {
  if (!started_) {
    return;
  }
  started_ = false;
  api_->Stop();
  loop_->Stop();
  if (absl::Status s = telemetry_->Flush(/*including_open=*/true); !s.ok()) {
    Logger("daemon")->warn("could not persist feature history error={}", s.ToString());
  }
  if (absl::Status s = registry_->Flush(); !s.ok()) {
    Logger("daemon")->warn("could not persist training examples error={}", s.ToString());
  }
  Logger("daemon")->info("daemon stopped address={}", address());
}

int RunServe(const std::string& config_path) {
  absl::StatusOr<DaemonConfig> config = LoadDaemonConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "shadowfleet serve: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  SetLogLevel(config->log_level);
  if (!config->log_file.empty()) {
    SetLogFile(config->log_file);
  }
  // Signals are taken synchronously by this thread; every other thread runs with them blocked.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<Daemon>> daemon = Daemon::Create(*config);
  if (!daemon.ok()) {
    std::fprintf(stderr, "shadowfleet serve: %s\n", std::string(daemon.status().message()).c_str());
    return 1;
  }
  if (absl::Status started = (*daemon)->Start(); !started.ok()) {
    std::fprintf(stderr, "shadowfleet serve: %s\n", std::string(started.message()).c_str());
    return 1;
  }
  std::printf("shadowfleet serving on http://%s\n", (*daemon)->address().c_str());
  std::fflush(stdout);
  int received = 0;
  sigwait(&signals, &received);
  Logger("daemon")->info("shutting down signal={}", received);
  (*daemon)->Stop();
  return 0;
}

}  // namespace shadowfleet

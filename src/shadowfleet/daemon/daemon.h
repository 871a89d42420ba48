// The shadowfleet daemon: the store, the state view, the ledger, the providers, the
// reconcilers, the control loop and the API server, wired together and started and stopped
// as one. `shadowfleet serve` runs one until SIGTERM or SIGINT; tests and the demo run one
// in-process.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"

#include "shadowfleet/api/api_server.h"
#include "shadowfleet/api/fleet_service.h"
#include "shadowfleet/daemon/control_loop.h"
#include "shadowfleet/daemon/daemon_config.h"
#include "shadowfleet/prediction/model_registry.h"
#include "shadowfleet/prediction/risk_engine.h"
#include "shadowfleet/prediction/signal_tracker.h"
#include "shadowfleet/prediction/vulnerabilities.h"
#include "shadowfleet/provider/sim_provider.h"
#include "shadowfleet/router/router_set.h"
#include "shadowfleet/store/sqlite_store.h"
#include "shadowfleet/switchover/switchover_controller.h"
#include "shadowfleet/telemetry/telemetry_engine.h"
#include "shadowfleet/volume/volume_syncer.h"

namespace shadowfleet {

class Daemon {
 public:
  // Opens the store (creating the state directory) and builds every component. Nothing runs
  // until Start().
  static absl::StatusOr<std::unique_ptr<Daemon>> Create(const DaemonConfig& config,
                                                        Clock* clock = &RealClock());
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Starts the API server and the control loop, then applies the configured fleet specs.
  absl::Status Start();
  // Stops the API (no new requests), then the control loop after its current iteration.
  // Every state change is already committed; replicas keep running. Idempotent.
  void Stop();

  int port() const { return port_; }
  std::string address() const;
  FleetService& service() { return *service_; }
  FleetState& state() { return *state_; }
  Ledger& ledger() { return *ledger_; }
  Store& store() { return *store_; }
  ControlLoop& control_loop() { return *loop_; }
  ProviderSet& providers() { return *providers_; }
  SimCloud& sim_cloud() { return *sim_cloud_; }
  Metrics& metrics() { return *metrics_; }
  TelemetryEngine& telemetry() { return *telemetry_; }
  SwitchoverController& switchovers() { return *switchovers_; }
  RiskEngine& risk() { return *risk_; }
  ModelRegistry& models() { return *registry_; }
  RouterSet& routers() { return *routers_; }

 private:
  explicit Daemon(DaemonConfig config, Clock* clock) : config_(std::move(config)), clock_(clock) {}

  const DaemonConfig config_;
  Clock* const clock_;
  int port_ = 0;
  bool started_ = false;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<FleetState> state_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<SimCloud> sim_cloud_;
  std::unique_ptr<ProviderSet> providers_;
  std::unique_ptr<LiveManager> live_;
  std::unique_ptr<ShadowManager> shadow_;
  std::unique_ptr<VolumeSyncer> volumes_;
  std::unique_ptr<SignalTracker> signals_;
  std::unique_ptr<TelemetryEngine> telemetry_;
  std::unique_ptr<ModelRegistry> registry_;
  std::unique_ptr<VulnerabilityDatabase> advisories_;
  std::unique_ptr<RiskEngine> risk_;
  std::unique_ptr<RouterSet> routers_;
  std::unique_ptr<HttpReplicaMetrics> http_metrics_;
  std::unique_ptr<SimReplicaMetrics> sim_metrics_;
  std::unique_ptr<SwitchoverController> switchovers_;
  std::unique_ptr<ControlLoop> loop_;
  std::unique_ptr<FleetService> service_;
  std::unique_ptr<ApiServer> api_;
  std::shared_ptr<prometheus::Collectable> readiness_metrics_;
};

// Runs `shadowfleet serve --config path` until SIGTERM or SIGINT; returns the exit code.
int RunServe(const std::string& config_path);

// The directory holding the running executable (for the {bin} placeholder).
std::string ExecutableDir();

}  // namespace shadowfleet

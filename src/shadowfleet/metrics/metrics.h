// Every metric the daemon exports, declared in one place. Components receive a Metrics*
// (which may be null in unit tests that do not look at metrics) and bump the counters they
// own; state-derived gauges (readiness) are computed at scrape time by collectables, so the
// reconcile loops pay nothing per instance for them.
//
// Thread-safe (prometheus-cpp's metrics are atomic; the collectable list has a mutex).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace shadowfleet {

class Metrics {
 public:
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Text exposition format 0.0.4 of every metric, including collectables.
  std::string Serialize() const;

  // Adds a source of metrics computed at scrape time. It is dropped once expired.
  void AddCollectable(std::weak_ptr<prometheus::Collectable> collectable);

  // Reconcile passes.
  prometheus::Histogram& PassDuration(const std::string& loop);
  prometheus::Counter& PassErrors(const std::string& loop);

  // Shadow Fleet Manager actions: created, applied, replaced, failed, removed.
  prometheus::Counter& ShadowAction(const std::string& action);
  // Live instance actions: created, applied, observed_change, lost, replaced.
  prometheus::Counter& LiveAction(const std::string& action);

  prometheus::Counter& ProviderError(const std::string& provider, const std::string& operation);
  prometheus::Counter& VolumeSync(const std::string& result);
  prometheus::Counter& LedgerVersions(const std::string& source);
  prometheus::Counter& StoreConflicts();
  prometheus::Counter& ApiRequests(const std::string& method, const std::string& code);
  prometheus::Counter& SpecRejected();

  // Telemetry: samples accepted, rejected (by reason) and scrapes (by result).
  prometheus::Counter& TelemetrySamples();
  prometheus::Counter& TelemetryRejected(const std::string& reason);
  prometheus::Counter& TelemetryScrapes(const std::string& result);

  // Switchovers: by outcome, step durations, and the new replica's current weight.
  prometheus::Counter& Switchovers(const std::string& outcome);
  prometheus::Histogram& SwitchoverStepSeconds();
  prometheus::Gauge& SwitchoverWeight(const std::string& instance);

  // The risk score of an instance: P(failure within the model's horizon).
  prometheus::Gauge& RiskScore(const std::string& instance);
  // Drops an instance's per-instance series (risk score, switchover weight) once it is gone.
  void ForgetInstance(const std::string& instance);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Histogram>& pass_duration_;
  prometheus::Family<prometheus::Counter>& pass_errors_;
  prometheus::Family<prometheus::Counter>& shadow_actions_;
  prometheus::Family<prometheus::Counter>& live_actions_;
  prometheus::Family<prometheus::Counter>& provider_errors_;
  prometheus::Family<prometheus::Counter>& volume_syncs_;
  prometheus::Family<prometheus::Counter>& ledger_versions_;
  prometheus::Family<prometheus::Counter>& store_conflicts_;
  prometheus::Family<prometheus::Counter>& api_requests_;
  prometheus::Family<prometheus::Counter>& spec_rejected_;
  prometheus::Family<prometheus::Counter>& telemetry_samples_;
  prometheus::Family<prometheus::Counter>& telemetry_rejected_;
  prometheus::Family<prometheus::Counter>& telemetry_scrapes_;
  prometheus::Family<prometheus::Counter>& switchovers_;
  prometheus::Family<prometheus::Histogram>& switchover_steps_;
  prometheus::Family<prometheus::Gauge>& switchover_weight_;
  prometheus::Family<prometheus::Gauge>& risk_score_;

  mutable std::mutex collectables_mu_;
  std::vector<std::weak_ptr<prometheus::Collectable>> collectables_;
};

// Helpers for collectables that build families by hand.
prometheus::MetricFamily GaugeFamily(std::string name, std::string help);
void AddGauge(prometheus::MetricFamily& family, double value,
              std::vector<prometheus::ClientMetric::Label> labels = {});

}  // namespace shadowfleet

#include "shadowfleet/metrics/metrics.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <sstream>

namespace shadowfleet {
namespace {

prometheus::Histogram::BucketBoundaries PassBuckets() {
  return {0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      pass_duration_(prometheus::BuildHistogram()
                         .Name("shadowfleet_reconcile_pass_seconds")
                         .Help("Duration of one reconcile pass over the fleet, by loop")
                         .Register(*registry_)),
      pass_errors_(prometheus::BuildCounter()
                       .Name("shadowfleet_reconcile_errors_total")
                       .Help("Instances whose reconcile step failed, by loop")
                       .Register(*registry_)),
      shadow_actions_(prometheus::BuildCounter()
                          .Name("shadowfleet_shadow_actions_total")
                          .Help("Actions of the Shadow Fleet Manager on shadows, by action")
                          .Register(*registry_)),
      live_actions_(prometheus::BuildCounter()
                        .Name("shadowfleet_live_actions_total")
                        .Help("Actions on live instances and observations of them, by action")
                        .Register(*registry_)),
      provider_errors_(prometheus::BuildCounter()
                           .Name("shadowfleet_provider_errors_total")
                           .Help("Failed provider operations, by provider and operation")
                           .Register(*registry_)),
      volume_syncs_(prometheus::BuildCounter()
                        .Name("shadowfleet_volume_syncs_total")
                        .Help("Shadow data volume synchronisations, by result")
                        .Register(*registry_)),
      ledger_versions_(prometheus::BuildCounter()
                           .Name("shadowfleet_ledger_versions_total")
                           .Help("Configuration versions recorded, by source")
                           .Register(*registry_)),
      store_conflicts_(prometheus::BuildCounter()
                           .Name("shadowfleet_store_conflicts_total")
                           .Help("Writes aborted because another writer changed the object")
                           .Register(*registry_)),
      api_requests_(prometheus::BuildCounter()
                        .Name("shadowfleet_api_requests_total")
                        .Help("HTTP API requests, by method and status code")
                        .Register(*registry_)),
      spec_rejected_(prometheus::BuildCounter()
                         .Name("shadowfleet_specs_rejected_total")
                         .Help("Fleet specs rejected as invalid")
                         .Register(*registry_)),
      telemetry_samples_(prometheus::BuildCounter()
                             .Name("shadowfleet_telemetry_samples_total")
                             .Help("Metric samples accepted from scrapes and pushes")
                             .Register(*registry_)),
      telemetry_rejected_(prometheus::BuildCounter()
                              .Name("shadowfleet_telemetry_rejected_samples_total")
                              .Help("Metric samples rejected, by reason")
                              .Register(*registry_)),
      telemetry_scrapes_(prometheus::BuildCounter()
                             .Name("shadowfleet_telemetry_scrapes_total")
                             .Help("Scrapes of live replicas' metrics endpoints, by result")
                             .Register(*registry_)),
      switchovers_(prometheus::BuildCounter()
                       .Name("shadowfleet_switchovers_total")
                       .Help("Switchovers ended, by outcome (completed, rolled_back, cancelled)")
                       .Register(*registry_)),
      switchover_steps_(prometheus::BuildHistogram()
                            .Name("shadowfleet_switchover_step_seconds")
                            .Help("Duration of canary steps, from weight change to judgement")
                            .Register(*registry_)),
      switchover_weight_(prometheus::BuildGauge()
                             .Name("shadowfleet_switchover_weight_percent")
                             .Help("Share of an instance's traffic on the replica taking over")
                             .Register(*registry_)),
      risk_score_(prometheus::BuildGauge()
                      .Name("shadowfleet_risk_score")
                      .Help("Probability that the instance fails within the model's horizon")
                      .Register(*registry_)) {}

std::string Metrics::Serialize() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  {
    std::lock_guard lock(collectables_mu_);
    for (const auto& weak : collectables_) {
      if (auto collectable = weak.lock()) {
        for (auto& family : collectable->Collect()) {
          families.push_back(std::move(family));
        }
      }
    }
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

void Metrics::AddCollectable(std::weak_ptr<prometheus::Collectable> collectable) {
  std::lock_guard lock(collectables_mu_);
  collectables_.erase(std::remove_if(collectables_.begin(), collectables_.end(),
                                     [](const auto& w) { return w.expired(); }),
                      collectables_.end());
  collectables_.push_back(std::move(collectable));
}

prometheus::Histogram& Metrics::PassDuration(const std::string& loop) {
  return pass_duration_.Add({{"loop", loop}}, PassBuckets());
}
prometheus::Counter& Metrics::PassErrors(const std::string& loop) {
  return pass_errors_.Add({{"loop", loop}});
}
prometheus::Counter& Metrics::ShadowAction(const std::string& action) {
  return shadow_actions_.Add({{"action", action}});
}
prometheus::Counter& Metrics::LiveAction(const std::string& action) {
  return live_actions_.Add({{"action", action}});
}
prometheus::Counter& Metrics::ProviderError(const std::string& provider,
                                            const std::string& operation) {
  return provider_errors_.Add({{"provider", provider}, {"operation", operation}});
}
prometheus::Counter& Metrics::VolumeSync(const std::string& result) {
  return volume_syncs_.Add({{"result", result}});
}
prometheus::Counter& Metrics::LedgerVersions(const std::string& source) {
  return ledger_versions_.Add({{"source", source}});
}
prometheus::Counter& Metrics::StoreConflicts() {
  return store_conflicts_.Add({});
}
prometheus::Counter& Metrics::ApiRequests(const std::string& method, const std::string& code) {
  return api_requests_.Add({{"method", method}, {"code", code}});
}
prometheus::Counter& Metrics::SpecRejected() {
  return spec_rejected_.Add({});
}

prometheus::Counter& Metrics::TelemetrySamples() {
  return telemetry_samples_.Add({});
}
prometheus::Counter& Metrics::TelemetryRejected(const std::string& reason) {
  return telemetry_rejected_.Add({{"reason", reason}});
}
prometheus::Counter& Metrics::TelemetryScrapes(const std::string& result) {
  return telemetry_scrapes_.Add({{"result", result}});
}

prometheus::Counter& Metrics::Switchovers(const std::string& outcome) {
  return switchovers_.Add({{"outcome", outcome}});
}
prometheus::Histogram& Metrics::SwitchoverStepSeconds() {
  return switchover_steps_.Add(
      {}, prometheus::Histogram::BucketBoundaries{1, 5, 10, 30, 60, 120, 300, 600});
}
prometheus::Gauge& Metrics::SwitchoverWeight(const std::string& instance) {
  return switchover_weight_.Add({{"instance", instance}});
}

prometheus::Gauge& Metrics::RiskScore(const std::string& instance) {
  return risk_score_.Add({{"instance", instance}});
}

void Metrics::ForgetInstance(const std::string& instance) {
  risk_score_.Remove(&risk_score_.Add({{"instance", instance}}));
  switchover_weight_.Remove(&switchover_weight_.Add({{"instance", instance}}));
}

prometheus::MetricFamily GaugeFamily(std::string name, std::string help) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = prometheus::MetricType::Gauge;
  return family;
}

void AddGauge(prometheus::MetricFamily& family, double value,
              std::vector<prometheus::ClientMetric::Label> labels) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  family.metric.push_back(std::move(metric));
}

}  // namespace shadowfleet

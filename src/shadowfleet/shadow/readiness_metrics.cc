#include "shadowfleet/shadow/readiness_metrics.h"

#include "shadowfleet/metrics/metrics.h"

namespace shadowfleet {
namespace {

class ReadinessCollector : public prometheus::Collectable {
 public:
  ReadinessCollector(const FleetState* state, Clock* clock, VersionTimeFn version_time,
                     int per_instance_limit)
      : state_(state),
        clock_(clock),
        version_time_(std::move(version_time)),
        per_instance_limit_(per_instance_limit) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    ReadinessReport report = ComputeFleetReadiness(*state_, clock_->Now(), version_time_);
    const FleetReadiness& f = report.fleet;
    std::vector<prometheus::MetricFamily> out;
    auto fleet_gauge = [&out](const char* name, const char* help, double value) {
      prometheus::MetricFamily family = GaugeFamily(name, help);
      AddGauge(family, value);
      out.push_back(std::move(family));
    };
    fleet_gauge("shadowfleet_fleet_live_instances", "Live instances in the fleet",
                f.live_instances);
    fleet_gauge("shadowfleet_fleet_ready_shadows", "Live instances with a ready shadow",
                f.ready_shadows);
    fleet_gauge("shadowfleet_fleet_readiness_ratio", "Share of live instances with a ready shadow",
                f.ready_ratio);
    fleet_gauge("shadowfleet_fleet_max_versions_behind",
                "Worst number of configuration versions a shadow lacks",
                static_cast<double>(f.max_versions_behind));
    fleet_gauge("shadowfleet_fleet_max_seconds_behind",
                "Worst age of a live version a shadow lacks", f.max_seconds_behind);
    fleet_gauge("shadowfleet_fleet_max_data_lag_seconds", "Worst data volume copy lag",
                f.max_data_lag_seconds);

    prometheus::MetricFamily by_reason =
        GaugeFamily("shadowfleet_shadows", "Shadows by readiness reason");
    for (const auto& [reason, count] : f.by_reason) {
      AddGauge(by_reason, count, {{"reason", reason}});
    }
    out.push_back(std::move(by_reason));

    if (static_cast<int>(report.instances.size()) > per_instance_limit_) {
      return out;
    }
    prometheus::MetricFamily ready =
        GaugeFamily("shadowfleet_shadow_ready", "1 if the instance's shadow is ready");
    prometheus::MetricFamily versions = GaugeFamily("shadowfleet_shadow_versions_behind",
                                                    "Configuration versions the shadow lacks");
    prometheus::MetricFamily seconds = GaugeFamily(
        "shadowfleet_shadow_seconds_behind", "Age of the oldest live version the shadow lacks");
    prometheus::MetricFamily lag =
        GaugeFamily("shadowfleet_shadow_data_lag_seconds", "Worst data volume copy lag");
    for (const Readiness& r : report.instances) {
      std::vector<prometheus::ClientMetric::Label> labels = {{"group", r.group},
                                                             {"instance", r.instance_id}};
      AddGauge(ready, r.ready ? 1 : 0, labels);
      AddGauge(versions, static_cast<double>(r.versions_behind), labels);
      AddGauge(seconds, r.seconds_behind, labels);
      AddGauge(lag, r.data_lag_seconds, labels);
    }
    for (auto* family : {&ready, &versions, &seconds, &lag}) {
      out.push_back(std::move(*family));
    }
    return out;
  }

 private:
  const FleetState* const state_;
  Clock* const clock_;
  const VersionTimeFn version_time_;
  const int per_instance_limit_;
};

}  // namespace

std::shared_ptr<prometheus::Collectable> MakeReadinessCollector(const FleetState* state,
                                                                Clock* clock,
                                                                VersionTimeFn version_time,
                                                                int per_instance_limit) {
  return std::make_shared<ReadinessCollector>(state, clock, std::move(version_time),
                                              per_instance_limit);
}

}  // namespace shadowfleet

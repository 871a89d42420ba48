// The telemetry engine on a fake clock: features computed from exposition text as
// node_exporter and HTTP servers write it, bad samples rejected with counted reasons while
// the rest of the batch is kept, bounded compressed history, persisted feature blocks.
#include "shadowfleet/telemetry/telemetry_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "testing/test_fleet.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::FleetYaml;
using ::shadowfleet::testing::TestFleet;

class RecordingSink : public FeatureSink {
 public:
  void OnFeature(const std::string& instance, const std::string& feature, int64_t t, double value,
                 std::optional<double> limit) override {
    (void)limit;
    std::lock_guard lock(mu_);
    samples_.push_back({instance, feature, t, value});
  }
  // The last value recorded for `feature` of `instance`, or NaN.
  double Last(const std::string& instance, const std::string& feature) const {
    std::lock_guard lock(mu_);
    for (auto it = samples_.rbegin(); it != samples_.rend(); ++it) {
      if (it->instance == instance && it->feature == feature) {
        return it->value;
      }
    }
    return std::nan("");
  }

 private:
  struct Sample {
    std::string instance, feature;
    int64_t t;
    double value;
  };
  mutable std::mutex mu_;
  std::vector<Sample> samples_;
};

// node_exporter and HTTP-server text for one scrape: two CPUs whose idle counters advance
// by `idle_per_cpu` seconds per 5 s, memory, and request counters.
std::string NodeText(double idle_total, double avail, int requests, int errors) {
  return absl::StrFormat(R"(# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} %f
node_cpu_seconds_total{cpu="1",mode="idle"} %f
node_cpu_seconds_total{cpu="0",mode="user"} 5
# TYPE node_memory_MemAvailable_bytes gauge
node_memory_MemAvailable_bytes %f
node_memory_MemTotal_bytes 8000
# TYPE http_requests_total counter
http_requests_total{code="200"} %d
http_requests_total{code="503"} %d
)",
                         idle_total, idle_total, avail, requests, errors);
}

class TelemetryEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fleet_.Apply(FleetYaml("web", 2));
    fleet_.Settle();
    engine_ = std::make_unique<TelemetryEngine>(fleet_.state.get(), fleet_.store.get(),
                                                &fleet_.clock, nullptr, &sink_);
  }

  int64_t Now() { return absl::ToUnixMillis(fleet_.clock.Now()); }

  TestFleet fleet_;
  RecordingSink sink_;
  std::unique_ptr<TelemetryEngine> engine_;
};

TEST_F(TelemetryEngineTest, ComputesTheDefaultFeaturesFromNodeExporterText) {
  IngestResult first = engine_->Ingest("web-0", NodeText(100, 6000, 1000, 0), Now());
  EXPECT_EQ(first.accepted, 7);
  EXPECT_EQ(first.rejected_total(), 0);
  fleet_.clock.Advance(absl::Seconds(5));
  // Each CPU idle for 4 of 5 seconds; 2000 of 8000 bytes available; 10 of 100 requests fail.
  IngestResult second = engine_->Ingest("web-0", NodeText(104, 2000, 1090, 10), Now());
  EXPECT_EQ(second.rejected_total(), 0);

  EXPECT_NEAR(sink_.Last("web-0", "cpu_utilisation"), 0.2, 1e-9);
  EXPECT_NEAR(sink_.Last("web-0", "memory_used_ratio"), 0.75, 1e-9);
  EXPECT_NEAR(sink_.Last("web-0", "error_rate"), 0.1, 1e-9);
  std::map<std::string, double> latest = engine_->LatestFeatures("web-0");
  EXPECT_NEAR(latest["memory_used_ratio"], 0.75, 1e-9);
  EXPECT_EQ(latest.count("disk_used_ratio"), 0u) << "no filesystem metrics, no disk feature";
}

TEST_F(TelemetryEngineTest, RejectsBadSamplesWithACountedReasonAndKeepsTheRest) {
  engine_->Ingest("web-0", "requests_total 100 1000\nqueue 5 1000\n", Now());
  IngestResult result = engine_->Ingest("web-0",
                                        "requests_total 90 2000\n"  // counter reset
                                        "queue 6 1000\n"            // duplicate timestamp
                                        "queue 7 500\n"             // out of order
                                        "temperature NaN\n"         // not finite
                                        "pressure +Inf\n"           // not finite
                                        "broken{ 1\n"               // unparsable
                                        "fine 1\n"
                                        "also_fine{a=\"b\"} 2\n",
                                        Now());
  auto rejected = [&](RejectReason r) { return result.rejected[static_cast<int>(r)]; };
  EXPECT_EQ(rejected(RejectReason::kCounterReset), 1);
  EXPECT_EQ(rejected(RejectReason::kDuplicateTimestamp), 1);
  EXPECT_EQ(rejected(RejectReason::kOutOfOrder), 1);
  EXPECT_EQ(rejected(RejectReason::kNotFinite), 2);
  EXPECT_EQ(rejected(RejectReason::kParseError), 1);
  EXPECT_EQ(result.accepted, 2);
  ASSERT_EQ(result.problems.size(), 1u);
  EXPECT_THAT(result.problems[0], ::testing::StartsWith("line 6:"));

  IngestResult unknown = engine_->Ingest("web-99", "a 1\nb 2\n", Now());
  EXPECT_EQ(unknown.rejected[static_cast<int>(RejectReason::kUnknownInstance)], 2);
  EXPECT_EQ(unknown.accepted, 0);
}

TEST_F(TelemetryEngineTest, CapsTheNumberOfSeriesPerInstance) {
  TelemetryOptions options;
  options.max_series_per_instance = 3;
  TelemetryEngine capped(fleet_.state.get(), nullptr, &fleet_.clock, nullptr, nullptr, options);
  IngestResult result = capped.Ingest("web-0", "a 1\nb 1\nc 1\nd 1\ne 1\n", Now());
  EXPECT_EQ(result.accepted, 3);
  EXPECT_EQ(result.rejected[static_cast<int>(RejectReason::kSeriesLimit)], 2);
}

TEST_F(TelemetryEngineTest, KeepsABoundedCompressedHistoryPerSeries) {
  TelemetryOptions options;
  options.max_samples_per_series = 240;
  TelemetryEngine engine(fleet_.state.get(), nullptr, &fleet_.clock, nullptr, nullptr, options);
  for (int i = 0; i < 2000; ++i) {
    fleet_.clock.Advance(absl::Seconds(5));
    engine.Ingest("web-1", NodeText(100 + 4 * i, 6000 - i, 1000 + 90 * i, i), Now());
  }
  TelemetryStats stats = engine.Stats();
  EXPECT_EQ(stats.series, 7u);
  // At most the bound of closed blocks plus one open block of 120 samples.
  EXPECT_LE(stats.samples, 7u * (240 + 120));
  EXPECT_LT(static_cast<double>(stats.bytes) / static_cast<double>(stats.samples), 4.0);
}

TEST_F(TelemetryEngineTest, PersistsFeatureHistoryForRetraining) {
  for (int i = 0; i < 130; ++i) {
    fleet_.clock.Advance(absl::Seconds(5));
    engine_->Ingest("web-0", NodeText(100 + 4 * i, 6000 - 10 * i, 1000, 0), Now());
  }
  ASSERT_TRUE(engine_->Flush(/*including_open=*/true).ok());
  absl::StatusOr<std::vector<ChunkRecord>> chunks =
      fleet_.store->ReadChunks("web-0/memory_used_ratio", 0, Now());
  ASSERT_TRUE(chunks.ok());
  std::vector<TimedValue> restored;
  for (const ChunkRecord& chunk : *chunks) {
    ASSERT_TRUE(DecodeGorilla(chunk.data, &restored));
  }
  ASSERT_EQ(restored.size(), 130u);
  EXPECT_NEAR(restored.back().value, 1 - (6000 - 10 * 129) / 8000.0, 1e-12);
}

TEST_F(TelemetryEngineTest, AGroupCanDefineItsOwnFeatures) {
  TestFleet fleet;
  fleet.Apply(FleetYaml("app", 1, R"(      telemetry:
        defaultFeatures: false
        features:
          - name: queue_fill
            metric: app_queue_length
            match: {queue: "~main|backup"}
            aggregate: max
            divideBy: {metric: app_queue_capacity}
            limit: 1
)"));
  fleet.Settle();
  RecordingSink sink;
  TelemetryEngine engine(fleet.state.get(), nullptr, &fleet.clock, nullptr, &sink);
  IngestResult result = engine.Ingest("app-0",
                                      "app_queue_length{queue=\"main\"} 30\n"
                                      "app_queue_length{queue=\"backup\"} 70\n"
                                      "app_queue_length{queue=\"other\"} 99\n"
                                      "app_queue_capacity 100\n"
                                      "node_memory_MemTotal_bytes 8000\n",
                                      absl::ToUnixMillis(fleet.clock.Now()));
  EXPECT_EQ(result.features, 1);
  EXPECT_NEAR(sink.Last("app-0", "queue_fill"), 0.7, 1e-12);
}

}  // namespace
}  // namespace shadowfleet

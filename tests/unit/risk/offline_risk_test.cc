// `shadowfleet train` and `shadowfleet score` on a fleet history written here: instances whose
// memory leaks now and then until they are killed. Training labels the rows before each
// failure, the model file loads, scoring writes every row in file order and is causal (scores
// of a prefix of the file do not change when later rows are added), and bad files are
// reported with file and line.
#include "shadowfleet/eval/offline_risk.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "testing/temp_dir.h"

#include "shadowfleet/cli/cli.h"
#include "shadowfleet/common/files.h"
#include "shadowfleet/prediction/gbm_risk_model.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::TempDir;
using ::testing::HasSubstr;

struct History {
  std::string metrics = "instance,timestamp,memory_used_ratio,cpu_utilisation\n";
  std::string failures = "instance,timestamp,kind\n";
  int rows = 0;
};

// `instances` instances for `hours`, one row a minute. Memory idles near 40 %; now and then it
// starts leaking 0.4-1 % a minute and the instance is killed at 100 %, restarting at 40 %.
History MakeHistory(int instances, int hours, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 0.002);
  std::uniform_real_distribution<double> u(0, 1);
  History h;
  const int64_t t0 = 1'700'000'000;
  for (int i = 0; i < instances; ++i) {
    const std::string id = absl::StrCat("web-", i);
    double memory = 0.4, leak = 0;
    int64_t leak_at = t0 + static_cast<int64_t>((2 + 6 * u(rng)) * 3600);
    for (int64_t t = t0; t < t0 + hours * 3600; t += 60) {
      if (leak == 0 && t >= leak_at) {
        leak = 0.004 + 0.006 * u(rng);
      }
      memory = leak > 0 ? memory + leak + noise(rng) : 0.4 + noise(rng);
      if (memory >= 1.0) {
        absl::StrAppend(&h.failures, id, ",", t, ",oom\n");
        memory = 0.4;
        leak = 0;
        leak_at = t + static_cast<int64_t>((2 + 6 * u(rng)) * 3600);
        continue;
      }
      absl::StrAppend(&h.metrics, id, ",", t, ",", memory, ",", 0.3 + noise(rng), "\n");
      ++h.rows;
    }
  }
  return h;
}

int RunCommand(std::vector<std::string> args, std::string* out = nullptr,
               std::string* err = nullptr) {
  args.insert(args.begin(), "shadowfleet");
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  int code = RunCli(static_cast<int>(argv.size()), argv.data());
  std::string o = ::testing::internal::GetCapturedStdout();
  std::string e = ::testing::internal::GetCapturedStderr();
  if (out != nullptr) {
    *out = o;
  }
  if (err != nullptr) {
    *err = e;
  }
  return code;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

TEST(OfflineRisk, TrainsScoresAndScoresCausally) {
  TempDir dir;
  History h = MakeHistory(6, 24, 1);
  ASSERT_TRUE(WriteFileAtomically(dir.File("m.csv"), h.metrics).ok());
  ASSERT_TRUE(WriteFileAtomically(dir.File("f.csv"), h.failures).ok());

  std::string out, err;
  ASSERT_EQ(RunCommand({"train", "--metrics", dir.File("m.csv"), "--failures", dir.File("f.csv"),
                        "--horizon", "30m", "--model", dir.File("model.json"), "--version", "v1",
                        "--threads", "1", "-o", "json"},
                       &out, &err),
            0)
      << err;
  nlohmann::json summary = nlohmann::json::parse(out);
  EXPECT_EQ(summary["version"], "v1");
  EXPECT_EQ(summary["rows"], h.rows);
  EXPECT_GT(summary["labelled"]["positives"].get<int>(), 50);
  EXPECT_EQ(summary["labelled"]["censored"], 6 * 30);  // Each instance's last half hour.
  ASSERT_TRUE(summary["validation"].contains("model")) << summary["validation"];
  EXPECT_LT(summary["validation"]["model"]["brier"].get<double>(), 0.05);

  absl::StatusOr<std::string> stored = ReadFile(dir.File("model.json"));
  ASSERT_TRUE(stored.ok());
  nlohmann::json model_json = nlohmann::json::parse(*stored);
  EXPECT_EQ(model_json["limits"]["memory_used_ratio"], 1.0);
  absl::StatusOr<std::unique_ptr<GbmRiskModel>> model = GbmRiskModel::FromJson(model_json);
  ASSERT_TRUE(model.ok()) << model.status();

  ASSERT_EQ(RunCommand({"score", "--model", dir.File("model.json"), "--metrics", dir.File("m.csv"),
                        "--failures", dir.File("f.csv"), "--output", dir.File("risk.csv"),
                        "--threads", "1", "-o", "json"},
                       &out, &err),
            0)
      << err;
  std::vector<std::string> risk = Lines(*ReadFile(dir.File("risk.csv")));
  ASSERT_EQ(risk.size(), static_cast<size_t>(h.rows) + 1);
  EXPECT_EQ(risk[0], "instance,timestamp,risk,top_factor");
  EXPECT_GT(nlohmann::json::parse(out)["rowsAtOrAboveThreshold"].get<int>(), 0);

  // The first half of the file alone gives the same scores for its rows.
  std::vector<std::string> metric_lines = Lines(h.metrics);
  std::string prefix;
  for (size_t i = 0; i < metric_lines.size() / 2; ++i) {
    absl::StrAppend(&prefix, metric_lines[i], "\n");
  }
  ASSERT_TRUE(WriteFileAtomically(dir.File("half.csv"), prefix).ok());
  ASSERT_EQ(RunCommand({"score", "--model", dir.File("model.json"), "--metrics",
                        dir.File("half.csv"), "--failures", dir.File("f.csv"), "--output",
                        dir.File("half-risk.csv"), "--threads", "1"}),
            0);
  std::vector<std::string> half = Lines(*ReadFile(dir.File("half-risk.csv")));
  ASSERT_EQ(half.size(), metric_lines.size() / 2);
  for (size_t i = 0; i < half.size(); ++i) {
    ASSERT_EQ(half[i], risk[i]) << "row " << i;
  }
}

TEST(OfflineRisk, BadInputIsReportedWithFileAndLine) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.File("f.csv"), "instance,timestamp\nweb-0,100\n").ok());
  struct Case {
    std::string metrics;
    std::string message;
  } cases[] = {
      {"instance,timestamp,cpu\nweb-0,100,x\n", "m.csv:2: cpu: \"x\" is not a finite number"},
      {"instance,timestamp,cpu\nweb-0,200,1\nweb-0,100,1\n",
       "m.csv:3: instance web-0: timestamp is older than the row on line 2"},
      {"host,timestamp,cpu\nweb-0,100,1\n", "m.csv:1: the header must start with"},
      {"instance,timestamp,cpu\nweb-0,yesterday,1\n", "m.csv:2: "},
  };
  for (const Case& c : cases) {
    ASSERT_TRUE(WriteFileAtomically(dir.File("m.csv"), c.metrics).ok());
    std::string err;
    EXPECT_EQ(RunCommand({"train", "--metrics", dir.File("m.csv"), "--failures", dir.File("f.csv"),
                          "--model", dir.File("model.json")},
                         nullptr, &err),
              kExitUsage)
        << c.metrics;
    EXPECT_THAT(err, HasSubstr(c.message));
  }

  ASSERT_TRUE(WriteFileAtomically(dir.File("m.csv"), "instance,timestamp,cpu\nweb-0,100,1\n").ok());
  std::string err;
  EXPECT_EQ(RunCommand({"train", "--metrics", dir.File("m.csv"), "--failures", dir.File("f.csv"),
                        "--model", dir.File("model.json"), "--horizon", "soon"},
                       nullptr, &err),
            kExitUsage);
  EXPECT_THAT(err, HasSubstr("--horizon \"soon\""));
  EXPECT_EQ(RunCommand({"train", "--metrics", dir.File("m.csv"), "--failures", dir.File("f.csv"),
                        "--model", dir.File("model.json"), "--limit", "cpu"},
                       nullptr, &err),
            kExitUsage);
  EXPECT_THAT(err, HasSubstr("is not METRIC=VALUE"));
  // One failure is not enough to learn from.
  EXPECT_NE(RunCommand({"train", "--metrics", dir.File("m.csv"), "--failures", dir.File("f.csv"),
                        "--model", dir.File("model.json")},
                       nullptr, &err),
            0);
  EXPECT_THAT(err, HasSubstr("at least 5 are needed"));
}

}  // namespace
}  // namespace shadowfleet

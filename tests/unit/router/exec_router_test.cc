// The exec router with a real plug-in: a small Python program the test writes, which keeps
// a balancer's state in a JSON file. Requests and responses cross a real process boundary;
// the plug-in's failures, silence, bad output and misreported weights become clear errors.
#include "shadowfleet/router/exec_router.h"

#include <gtest/gtest.h>

#include <fstream>

#include "absl/strings/match.h"
#include "testing/temp_dir.h"

#include "shadowfleet/common/files.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::TempDir;

// A balancer in a JSON file. ROUTER_MODE changes its behaviour: "fail" refuses everything,
// "lie" reports 50 % for every backend, "garbage" prints no JSON, "hang" never answers.
constexpr char kPlugin[] = R"(import json, os, sys, time
op = sys.argv[-1]
request = json.load(sys.stdin)
mode = os.environ.get("ROUTER_MODE", "")
path = os.environ["ROUTER_STATE"]
state = json.load(open(path)) if os.path.exists(path) else {}
log = open(path + ".log", "a")
log.write(op + " " + json.dumps(request, sort_keys=True) + "\n")
if mode == "fail":
    print(json.dumps({"error": "balancer says no to " + op}))
    sys.exit(3)
if mode == "garbage":
    print("this is not json")
    sys.exit(0)
if mode == "hang":
    time.sleep(30)
out = {}
if op == "ensure":
    b = request["backend"]
    state[b["name"]] = {"name": b["name"], "address": b["address"],
                        "weightPercent": request["weightPercent"], "draining": False}
elif op == "set-weights":
    for w in request["weights"]:
        state.setdefault(w["name"], {"name": w["name"], "address": w["address"]})
        state[w["name"]]["weightPercent"] = w["weightPercent"]
elif op == "drain":
    state[request["backend"]["name"]]["draining"] = True
elif op == "remove":
    state.pop(request["backend"]["name"], None)
elif op == "read":
    out["backends"] = [dict(state[b["name"]], present=True) for b in request["backends"]
                       if b["name"] in state]
    if mode == "lie":
        for b in out["backends"]:
            b["weightPercent"] = 50
else:
    print(json.dumps({"error": "unknown operation " + op}))
    sys.exit(2)
json.dump(state, open(path, "w"))
print(json.dumps(out))
)";

class ExecRouterTest : public ::testing::Test {
 protected:
  void SetUp() override { std::ofstream(dir_.File("plugin.py")) << kPlugin; }

  ExecRouter PluginRouter(const std::string& mode = "",
                          absl::Duration timeout = absl::Seconds(10)) const {
    ExecRouterSettings settings;
    settings.command = {"python3", "{bin}/plugin.py"};
    settings.env = {{"ROUTER_STATE", "{state}/balancer.json"}, {"ROUTER_MODE", mode}};
    settings.timeout = timeout;
    return ExecRouter("web", settings, RouterEnvironment{dir_.path(), dir_.path()});
  }

  TempDir dir_;
  Backend live_{"web-0-l1", "10.0.0.1:8080"};
  Backend shadow_{"web-0-s1", "10.0.0.2:8080"};
};

TEST_F(ExecRouterTest, CarriesEveryOperationThroughThePlugin) {
  ExecRouter router = PluginRouter();
  ASSERT_TRUE(router.Ensure(live_, 100).ok());
  ASSERT_TRUE(router.Ensure(shadow_, 0).ok());
  absl::Status set = router.SetWeights({{live_, 90}, {shadow_, 10}});
  ASSERT_TRUE(set.ok()) << set;

  absl::StatusOr<std::vector<BackendState>> states = router.Read({live_, shadow_});
  ASSERT_TRUE(states.ok()) << states.status();
  EXPECT_EQ((*states)[0].weight_percent, 90);
  EXPECT_EQ((*states)[0].address, "10.0.0.1:8080");
  EXPECT_EQ((*states)[1].weight_percent, 10);
  EXPECT_TRUE((*states)[1].present);

  ASSERT_TRUE(router.Drain(live_).ok());
  EXPECT_TRUE((*router.Read({live_}))[0].draining);
  ASSERT_TRUE(router.Remove(live_).ok());
  ASSERT_TRUE(router.Remove(live_).ok());
  EXPECT_FALSE((*router.Read({live_}))[0].present);
}

TEST_F(ExecRouterTest, SendsTheProtocolFieldsOnStdin) {
  ExecRouter router = PluginRouter();
  ASSERT_TRUE(router.Ensure(live_, 30).ok());
  absl::StatusOr<std::string> log = ReadFile(dir_.File("balancer.json.log"));
  ASSERT_TRUE(log.ok());
  EXPECT_TRUE(absl::StrContains(*log, R"(ensure {"apiVersion": "shadowfleet.dev/v1alpha1", )"
                                      R"("backend": {"address": "10.0.0.1:8080", "name": )"
                                      R"("web-0-l1"}, "group": "web", "operation": "ensure", )"
                                      R"("weightPercent": 30})"))
      << *log;
}

TEST_F(ExecRouterTest, WeightsReadBackOtherThanSetAreAFailedPrecondition) {
  ASSERT_TRUE(PluginRouter().Ensure(live_, 100).ok());
  absl::Status set = PluginRouter("lie").SetWeights({{live_, 90}});
  EXPECT_TRUE(absl::IsFailedPrecondition(set)) << set;
  EXPECT_TRUE(absl::StrContains(set.message(), "web-0-l1 has 50% instead of 90%")) << set;
}

TEST_F(ExecRouterTest, APluginFailureIsUnavailableWithItsError) {
  absl::Status ensure = PluginRouter("fail").Ensure(live_, 100);
  EXPECT_TRUE(absl::IsUnavailable(ensure)) << ensure;
  EXPECT_TRUE(absl::StrContains(ensure.message(), "exited with 3: balancer says no to ensure"))
      << ensure;
}

TEST_F(ExecRouterTest, OutputThatIsNotJsonIsInvalidArgument) {
  absl::StatusOr<std::vector<BackendState>> read = PluginRouter("garbage").Read({live_});
  EXPECT_TRUE(absl::IsInvalidArgument(read.status())) << read.status();
  EXPECT_TRUE(absl::StrContains(read.status().message(), "this is not json")) << read.status();
}

TEST_F(ExecRouterTest, APluginThatHangsIsKilledAtTheTimeout) {
  absl::Time start = absl::Now();
  absl::Status drain = PluginRouter("hang", absl::Milliseconds(500)).Drain(live_);
  EXPECT_TRUE(absl::IsUnavailable(drain)) << drain;
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST_F(ExecRouterTest, AMissingPluginIsUnavailable) {
  ExecRouterSettings settings;
  settings.command = {dir_.File("no-such-plugin")};
  ExecRouter router("web", settings, RouterEnvironment{});
  EXPECT_TRUE(absl::IsUnavailable(router.Ensure(live_, 100)));
}

TEST_F(ExecRouterTest, RefusesWeightsOutsideAPercentage) {
  ExecRouter router = PluginRouter();
  EXPECT_TRUE(absl::IsInvalidArgument(router.Ensure(live_, 150)));
  EXPECT_TRUE(absl::IsInvalidArgument(router.SetWeights({{live_, -5}})));
}

TEST_F(ExecRouterTest, ReadRejectsMalformedBackends) {
  std::ofstream(dir_.File("bad.py")) << "import sys, json\nsys.stdin.read()\n"
                                        "print(json.dumps({'backends': [{'name': 'web-0-l1', "
                                        "'weightPercent': 'ninety'}]}))\n";
  ExecRouterSettings settings;
  settings.command = {"python3", dir_.File("bad.py")};
  ExecRouter router("web", settings, RouterEnvironment{});
  absl::StatusOr<std::vector<BackendState>> read = router.Read({live_});
  EXPECT_TRUE(absl::IsInvalidArgument(read.status())) << read.status();
  EXPECT_TRUE(absl::StrContains(read.status().message(), "weightPercent")) << read.status();
}

}  // namespace
}  // namespace shadowfleet

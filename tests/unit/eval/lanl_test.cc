// The LANL age-hazard fit on a handful of records written here: exposure per cohort and age
// band, which records are left out and why, the clustering after repairs, the command's JSON,
// and errors that name file and line.
#include "shadowfleet/eval/lanl.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/temp_dir.h"

#include "shadowfleet/cli/cli.h"
#include "shadowfleet/common/files.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::TempDir;
using ::testing::HasSubstr;

constexpr char kHeader[] =
    "System,machine type,nodes,procstot,procsinnode,nodenum,nodenumz,node install,node prod,"
    "node decom,fru type,mem,cputype,memtype,num intercon,purpose,Prob Started,Prob Fixed,"
    "Down Time,Facilities,Hardware,Human Error,Network,Undetermined,Software,Same Event\n";

// System 1: 10 four-processor nodes in production from mid-January 2001 to mid-January 2002.
// Node 0 fails twice in its first month (the second time 30 minutes after the first repair),
// node 1 once at about seven months. System 2 has 128-processor nodes; system 3 has no
// production month. Both are left out.
std::string Records() {
  std::string s = kHeader;
  auto row = [&](int system, int procs, int node, const char* prod, const char* decom,
                 const char* start, const char* fixed, const char* hardware) {
    s += std::to_string(system) + ",cluster,10,40," + std::to_string(procs) + "," +
         std::to_string(node) + ",0,1-Jan," + prod + "," + decom + ",part,1,1,1,0,compute," +
         start + "," + fixed + ",30,," + hardware + ",,,,,No\n";
  };
  row(1, 4, 0, "1-Jan", "2-Jan", "1/20/2001 10:00", "1/20/2001 10:30", "CPU");
  row(1, 4, 0, "1-Jan", "2-Jan", "1/20/2001 11:00", "1/20/2001 11:10", "Memory Dimm");
  row(1, 4, 1, "1-Jan", "2-Jan", "8/20/2001 9:00", "8/20/2001 9:30", "CPU");
  row(2, 128, 0, "Nov-96", "current", "3/1/2002 8:00", "3/1/2002 9:00", "CPU");
  row(3, 4, 0, "before tracking", "current", "3/2/2002 8:00", "3/2/2002 9:00", "CPU");
  return s;
}

TEST(LanlFailures, ReadsMonthsStampsAndCauses) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.File("lanl.csv"), Records()).ok());
  absl::StatusOr<std::vector<LanlFailure>> records = ReadLanlFailures(dir.File("lanl.csv"));
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 5u);
  const LanlFailure& first = (*records)[0];
  EXPECT_EQ(first.system, 1);
  EXPECT_EQ(first.processors_per_node, 4);
  EXPECT_EQ(first.production, absl::FromCivil(absl::CivilDay(2001, 1, 15), absl::UTCTimeZone()));
  EXPECT_EQ(first.started,
            absl::FromCivil(absl::CivilMinute(2001, 1, 20, 10, 0), absl::UTCTimeZone()));
  EXPECT_EQ(first.cause, "Hardware");
  EXPECT_EQ((*records)[3].production,
            absl::FromCivil(absl::CivilDay(1996, 11, 15), absl::UTCTimeZone()));
  EXPECT_EQ((*records)[3].decommission, absl::InfiniteFuture());
  EXPECT_EQ((*records)[4].production, absl::InfinitePast());
}

TEST(LanlFit, CountsExposurePerCohortAndAgeBand) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.File("lanl.csv"), Records()).ok());
  absl::StatusOr<std::vector<LanlFailure>> records = ReadLanlFailures(dir.File("lanl.csv"));
  ASSERT_TRUE(records.ok());
  nlohmann::json fit = FitLanlHazard(*records, {});
  EXPECT_EQ(fit["data"]["used"], 3);
  EXPECT_EQ(fit["data"]["skippedLargeNodes"], 1);
  EXPECT_EQ(fit["data"]["skippedNoProductionMonth"], 1);

  // Both failing nodes are the whole cohort of system 1's 10 nodes (2 of 2 failing nodes), in
  // production for 365 days.
  const double life = 365.0 / 365.25;
  EXPECT_NEAR(fit["overall"]["nodeYears"].get<double>(), 10 * life, 1e-9);
  const nlohmann::json& first_month = fit["bands"][0];
  EXPECT_EQ(first_month["failures"], 2);
  EXPECT_NEAR(first_month["nodeYears"].get<double>(), 10.0 / 12, 1e-9);
  EXPECT_NEAR(first_month["perNodeYear"].get<double>(), 2.4, 1e-9);
  EXPECT_EQ(fit["bands"][3]["failures"], 1);  // 6-12 months.

  // The second failure came 30 minutes after the first repair.
  EXPECT_EQ(fit["afterRepair"][0]["failures"], 1);
  EXPECT_GT(fit["afterRepair"][0]["relative"].get<double>(), 10);
}

TEST(LanlFailures, MalformedRecordsNameFileLineAndColumn) {
  TempDir dir;
  std::string bad = Records();
  bad.replace(bad.find("1/20/2001 10:00"), 15, "2001-01-20 10h");
  ASSERT_TRUE(WriteFileAtomically(dir.File("bad.csv"), bad).ok());
  absl::StatusOr<std::vector<LanlFailure>> records = ReadLanlFailures(dir.File("bad.csv"));
  ASSERT_FALSE(records.ok());
  EXPECT_THAT(std::string(records.status().message()),
              HasSubstr(dir.File("bad.csv") + ":2: Prob Started: \"2001-01-20 10h\""));

  std::string month = Records();
  month.replace(month.find(",2-Jan,"), 7, ",2-Foo,");
  ASSERT_TRUE(WriteFileAtomically(dir.File("month.csv"), month).ok());
  EXPECT_THAT(std::string(ReadLanlFailures(dir.File("month.csv")).status().message()),
              HasSubstr(":2: node decom: \"2-Foo\" is not a month"));
}

TEST(EvalLanlCommand, PrintsTheFitAsJson) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.File("lanl.csv"), Records()).ok());
  std::vector<std::string> args = {"shadowfleet",        "eval", "lanl", "--data",
                                   dir.File("lanl.csv"), "-o",   "json"};
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  ::testing::internal::CaptureStdout();
  int code = RunCli(static_cast<int>(argv.size()), argv.data());
  std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_EQ(code, 0);
  nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_TRUE(j["powerLaw"]["beta"].is_number());
  EXPECT_EQ(j["bands"].size(), 7u);
}

}  // namespace
}  // namespace shadowfleet

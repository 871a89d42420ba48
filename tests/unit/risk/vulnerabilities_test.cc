// Known-vulnerability matching: dpkg's version order on a table of known pairs, CVSS v3.1
// base scores of published vectors, and OSV advisories matched against a software stack.
#include "shadowfleet/prediction/vulnerabilities.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/temp_dir.h"

#include "shadowfleet/common/files.h"
#include "shadowfleet/prediction/cvss.h"
#include "shadowfleet/prediction/debian_version.h"

namespace shadowfleet {
namespace {

using ::testing::HasSubstr;

TEST(DebianVersion, OrdersKnownPairs) {
  // Each pair is (lower, higher).
  const std::pair<const char*, const char*> kOrdered[] = {
      {"1.0~rc1", "1.0"},
      {"1.0~rc1", "1.0~rc2"},
      {"1.0~~", "1.0~"},
      {"1.0~", "1.0"},
      {"1.0", "1.0a"},
      {"1.0a", "1.0+b1"},
      {"1.0", "1.0.1"},
      {"1.0+b1", "1.0.1"},
      {"1.2-3", "1.2-10"},
      {"2.0", "1:0.9"},
      {"1:2.0", "2:0.1"},
      {"1.9", "1.10"},
      {"1.0-1", "1.0-1.1"},
      {"1.0", "1.0-1"},
      {"0.9", "1.0"},
      {"3.0.11-1~deb12u1", "3.0.11-1"},
      {"3.0.2-0ubuntu1", "3.0.11-1"},
      {"2.36-9+deb12u3", "2.36-9+deb12u4"},
      {"7.88.1-10", "7.88.1-10+deb12u1"},
      {"1.2.3", "1.2.3a~"},
      {"a", "b"},
      {"1.0a", "1.0b"},
  };
  for (const auto& [low, high] : kOrdered) {
    EXPECT_LT(CompareDebianVersions(low, high), 0) << low << " < " << high;
    EXPECT_GT(CompareDebianVersions(high, low), 0) << high << " > " << low;
  }
  const std::pair<const char*, const char*> kEqual[] = {
      {"1.0", "1.0"}, {"0:1.0", "1.0"}, {"1.0", "1.00"}, {"1.0-0", "1.0"}, {"1.01", "1.1"}};
  for (const auto& [a, b] : kEqual) {
    EXPECT_EQ(CompareDebianVersions(a, b), 0) << a << " == " << b;
  }
}

TEST(DebianVersion, ParsesEpochUpstreamAndRevision) {
  absl::StatusOr<DebianVersion> v = ParseDebianVersion("1:2.36-9+deb12u4");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->epoch, 1);
  EXPECT_EQ(v->upstream, "2.36");
  EXPECT_EQ(v->revision, "9+deb12u4");

  v = ParseDebianVersion("1.2-3-4");  // The revision follows the last hyphen.
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->upstream, "1.2-3");
  EXPECT_EQ(v->revision, "4");

  EXPECT_FALSE(ParseDebianVersion("x:1.0").ok());
  EXPECT_FALSE(ParseDebianVersion("1.0 beta").ok());
  EXPECT_FALSE(ParseDebianVersion("1:").ok());
}

TEST(Cvss, BaseScoresOfKnownVectors) {
  const std::pair<const char*, double> kKnown[] = {
      {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8},
      {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0},
      {"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1},
      {"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8},
      {"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9},
      {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5},
      {"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4},
      {"CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6},
      {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0},
      {"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8},
      {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O", 9.8},
  };
  for (const auto& [vector, score] : kKnown) {
    absl::StatusOr<double> s = CvssV3BaseScore(vector);
    ASSERT_TRUE(s.ok()) << vector << ": " << s.status();
    EXPECT_DOUBLE_EQ(*s, score) << vector;
  }
}

TEST(Cvss, RejectsMalformedVectors) {
  EXPECT_FALSE(CvssV3BaseScore("AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").ok());
  EXPECT_FALSE(CvssV3BaseScore("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H").ok());
  EXPECT_FALSE(CvssV3BaseScore("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").ok());
  EXPECT_FALSE(CvssV3BaseScore("CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").ok());
  EXPECT_FALSE(CvssV3BaseScore("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:Q/C:H/I:H/A:H").ok());
  EXPECT_FALSE(CvssV3BaseScore("CVSS:3.1/AV:N/AC:L/XX:N/UI:N/S:U/C:H/I:H/A:H").ok());
}

// A Debian advisory for openssl fixed in 3.0.11-1~deb12u1, with a CVSS vector; a GitHub-style
// one with a qualitative severity and a last_affected bound; one for another ecosystem.
constexpr char kOpensslAdvisory[] = R"({
  "id": "DSA-0001-1", "aliases": ["CVE-2023-0001"],
  "affected": [{
    "package": {"ecosystem": "Debian:12", "name": "openssl"},
    "ranges": [{"type": "ECOSYSTEM",
                "events": [{"introduced": "0"}, {"fixed": "3.0.11-1~deb12u1"}]}]
  }],
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}]
})";
constexpr char kCurlAdvisory[] = R"({
  "id": "OSV-0002",
  "affected": [{
    "package": {"ecosystem": "Debian", "name": "curl"},
    "ranges": [{"type": "ECOSYSTEM",
                "events": [{"introduced": "7.80.0"}, {"last_affected": "7.88.1-10"}]}],
    "versions": ["7.74.0-1.3+deb11u7"]
  }],
  "database_specific": {"severity": "HIGH"}
})";
constexpr char kPypiAdvisory[] = R"({
  "id": "PYSEC-0003",
  "affected": [{"package": {"ecosystem": "PyPI", "name": "curl"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]
})";

VulnerabilityDatabase Load(VulnerabilityOptions options = {}) {
  shadowfleet::testing::TempDir dir;
  EXPECT_TRUE(WriteFileAtomically(dir.File("a.json"), kOpensslAdvisory).ok());
  EXPECT_TRUE(WriteFileAtomically(dir.File("b.json"), kCurlAdvisory).ok());
  EXPECT_TRUE(WriteFileAtomically(dir.File("c.json"), kPypiAdvisory).ok());
  EXPECT_TRUE(WriteFileAtomically(dir.File("notes.txt"), "not an advisory").ok());
  absl::StatusOr<VulnerabilityDatabase> loaded =
      VulnerabilityDatabase::LoadDirectory(dir.path(), options);
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  return loaded.ok() ? *std::move(loaded) : VulnerabilityDatabase();
}

TEST(VulnerabilityDatabase, MatchesRangesAndVersionsWithDpkgOrder) {
  VulnerabilityDatabase db = Load({.ecosystem = "Debian"});
  EXPECT_EQ(db.size(), 3u);

  std::vector<VulnerabilityMatch> m = db.Match({{"openssl", "3.0.9-1"}, {"zlib", "1.2.13"}});
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].id, "DSA-0001-1");
  EXPECT_EQ(m[0].package, "openssl");
  EXPECT_EQ(m[0].version, "3.0.9-1");
  EXPECT_DOUBLE_EQ(m[0].severity, 7.5);

  // The fixed version and anything later are not affected; "~deb12u1" sorts before "-1".
  EXPECT_TRUE(db.Match({{"openssl", "3.0.11-1~deb12u1"}}).empty());
  EXPECT_TRUE(db.Match({{"openssl", "3.0.11-1"}}).empty());
  EXPECT_EQ(db.Match({{"openssl", "3.0.11-1~deb11u1"}}).size(), 1u);

  // last_affected is inclusive; the explicit version list matches exactly.
  EXPECT_EQ(db.Match({{"curl", "7.88.1-10"}}).size(), 1u);
  EXPECT_TRUE(db.Match({{"curl", "7.88.1-10+deb12u1"}}).empty());
  EXPECT_TRUE(db.Match({{"curl", "7.79.0"}}).empty());
  ASSERT_EQ(db.Match({{"curl", "7.74.0-1.3+deb11u7"}}).size(), 1u);
  EXPECT_DOUBLE_EQ(db.Match({{"curl", "7.74.0-1.3+deb11u7"}})[0].severity, 7.95);
}

TEST(VulnerabilityDatabase, EcosystemFilterAndOrderBySeverity) {
  VulnerabilityDatabase any = Load();
  std::vector<VulnerabilityMatch> m = any.Match({{"curl", "7.80.0"}, {"openssl", "1.1.1"}});
  ASSERT_EQ(m.size(), 3u);  // The PyPI advisory counts when no ecosystem is asked for.
  EXPECT_EQ(m[0].id, "OSV-0002");
  EXPECT_EQ(m[1].id, "DSA-0001-1");
  EXPECT_EQ(m[2].id, "PYSEC-0003");
  EXPECT_DOUBLE_EQ(m[2].severity, 0.0);
}

TEST(VulnerabilityDatabase, MalformedAdvisoryNamesTheFile) {
  shadowfleet::testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.File("bad.json"), R"({"id": 5})").ok());
  ASSERT_TRUE(WriteFileAtomically(dir.File("good.json"), kOpensslAdvisory).ok());
  absl::StatusOr<VulnerabilityDatabase> db = VulnerabilityDatabase::LoadDirectory(dir.path());
  ASSERT_FALSE(db.ok());
  EXPECT_THAT(std::string(db.status().message()), HasSubstr("bad.json"));

  db = VulnerabilityDatabase::LoadDirectory(dir.path(), {.skip_invalid = true});
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(db->size(), 1u);
  EXPECT_EQ(db->skipped(), 1);

  EXPECT_EQ(VulnerabilityDatabase::LoadDirectory(dir.File("missing")).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace shadowfleet

// Known vulnerabilities of an instance's software stack, from advisories in the OSV format
// (https://ossf.github.io/osv-schema/): one JSON document per file, as Debian, GitHub and
// others publish them.
//
// An advisory affects a package when one of its affected[] entries names it
// (affected[].package.name, optionally restricted to an ecosystem) and the installed version
// is listed in affected[].versions or falls in one of affected[].ranges: a range of type
// ECOSYSTEM or SEMVER is a sorted list of events, and a version is affected from an
// "introduced" event (inclusive; "0" means from the first version) up to a "fixed" event
// (exclusive) or a "last_affected" event (inclusive). Versions are ordered with dpkg's
// rules (prediction/debian_version.h), which also order most upstream version schemes
// sensibly; GIT ranges are ignored.
//
// Severity is the CVSS v3 base score computed from the advisory's vector (affected[].severity,
// then severity[]); failing that, a qualitative database_specific.severity (or Debian's
// urgency) at the middle of its CVSS band: low 2.0, medium 5.45, high 7.95, critical 9.5;
// failing that, 0 (unknown).
//
// Example:
//   absl::StatusOr<VulnerabilityDatabase> db = VulnerabilityDatabase::LoadDirectory("osv/");
//   std::vector<VulnerabilityMatch> m = db->Match({{"openssl", "3.0.11-1~deb12u1"}});
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include <nlohmann/json.hpp>

#include "shadowfleet/prediction/signals.h"

namespace shadowfleet {

struct VulnerabilityOptions {
  // Only affected[] entries whose ecosystem starts with this ("Debian" matches "Debian" and
  // "Debian:12"). Empty: any ecosystem.
  std::string ecosystem;
  // Skip advisories that cannot be read (counted in skipped()) instead of failing the load.
  bool skip_invalid = false;
};

// Immutable once loaded; Match() is thread-safe.
class VulnerabilityDatabase {
 public:
  VulnerabilityDatabase() = default;

  // Loads every *.json file of `dir` (not its subdirectories), in name order.
  // NOT_FOUND if the directory cannot be read; INVALID_ARGUMENT naming the file and the
  // problem for a file that is not an OSV advisory (unless skip_invalid).
  static absl::StatusOr<VulnerabilityDatabase> LoadDirectory(const std::string& dir,
                                                             VulnerabilityOptions options = {});

  // Adds one advisory. INVALID_ARGUMENT naming `source` and the field for a malformed one.
  absl::Status Add(const nlohmann::json& advisory, const std::string& source = "advisory");

  // The advisories affecting each package of `software` (package -> installed version),
  // sorted by descending severity, then id.
  std::vector<VulnerabilityMatch> Match(const std::map<std::string, std::string>& software) const;

  size_t size() const { return advisories_.size(); }
  int skipped() const { return skipped_; }

 private:
  struct Range {
    // Events in order of appearance: kind is "introduced", "fixed" or "last_affected".
    std::vector<std::pair<std::string, std::string>> events;
  };
  struct Affected {
    size_t advisory;
    std::vector<std::string> versions;
    std::vector<Range> ranges;
    double severity;
  };
  struct Advisory {
    std::string id;
  };

  bool Affects(const Affected& affected, const std::string& version) const;

  VulnerabilityOptions options_;
  std::vector<Advisory> advisories_;
  std::multimap<std::string, Affected> by_package_;
  int skipped_ = 0;
};

}  // namespace shadowfleet

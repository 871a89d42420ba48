// Ordering Debian package versions the way dpkg does, as the Debian Policy Manual (section
// 5.6.12, "Version") describes it: [epoch:]upstream_version[-debian_revision].
//
// - The epoch, a number, is compared first (absent means 0).
// - Then the upstream version, then the revision (absent means "0"), each by the same rule:
//   alternately the longest run of non-digits and the longest run of digits. Non-digit runs
//   compare character by character, where '~' sorts before everything (even the end of the
//   run), letters before all other characters, and other characters by their ASCII code. Digit
//   runs compare as numbers (an empty run is 0).
//
// So 1.0~rc1 < 1.0 < 1.0a < 1.0+b1 < 1.0.1, 1.2-3 < 1.2-10 and 1:0.9 > 2.0.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shadowfleet {

struct DebianVersion {
  int64_t epoch = 0;
  std::string upstream;
  std::string revision;  // Empty when absent.
};

// Splits a version. INVALID_ARGUMENT for an empty upstream version, an epoch that is not a
// number, or characters Policy does not allow (anything but alphanumerics and . + - ~ :).
absl::StatusOr<DebianVersion> ParseDebianVersion(absl::string_view text);

// <0, 0 or >0 as a sorts before, equal to or after b. Versions that do not parse are compared
// by the same rules on their text (epoch 0), so any two strings have an order.
int CompareDebianVersions(absl::string_view a, absl::string_view b);

}  // namespace shadowfleet

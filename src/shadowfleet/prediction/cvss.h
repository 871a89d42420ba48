// CVSS v3.x base scores from vector strings, by the formulas of the CVSS v3.1 specification
// (FIRST, section 7 and appendix A), so that an advisory's severity can be computed from its
// vector rather than trusted as a number.
//
// Example:
//   absl::StatusOr<double> s = CvssV3BaseScore("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H");
//   // *s == 9.8
#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shadowfleet {

// The base score, 0.0 to 10.0 in steps of 0.1. The vector starts with "CVSS:3.0/" or
// "CVSS:3.1/" and names each base metric (AV, AC, PR, UI, S, C, I, A) exactly once; temporal
// and environmental metrics may follow and do not change the base score. Version 3.0 vectors
// are rounded up as 3.0 specified (to the next tenth); 3.1 uses its corrected round-up.
// INVALID_ARGUMENT naming the problem for anything else.
absl::StatusOr<double> CvssV3BaseScore(absl::string_view vector);

}  // namespace shadowfleet

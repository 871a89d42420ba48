// Parsing the timestamps found in metric files into seconds since 1970-01-01 UTC.
#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shadowfleet {

// Accepts, with optional fractional seconds:
//   "2015-02-26 21:42:53"         (NAB's format; read as UTC)
//   "2015-02-26T21:42:53Z", "2015-02-26T21:42:53+01:00", "2015-02-26T21:42:53" (ISO 8601;
//                                  no zone means UTC)
//   "1424986973", "1424986973.5"  (unix seconds)
// INVALID_ARGUMENT with a message saying what is wrong (without file or line: the caller adds
// them).
absl::StatusOr<double> ParseTimestamp(absl::string_view text);

}  // namespace shadowfleet

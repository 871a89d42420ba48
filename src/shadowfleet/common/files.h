// Small file-system helpers with status results.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shadowfleet {

absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes `contents` to a temporary file beside `path`, fsyncs it and renames it over `path`,
// so that readers see either the old or the new contents, never a torn file.
absl::Status WriteFileAtomically(const std::string& path, const std::string& contents);

}  // namespace shadowfleet

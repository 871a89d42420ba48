// zlib compression for stored payloads (configuration checkpoints), behind a status-returning
// interface so that corrupt bytes on disk become an error, never a crash.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace shadowfleet {

std::string Compress(std::string_view data);

// Fails with DATA_LOSS if `data` is not a complete zlib stream.
absl::StatusOr<std::string> Decompress(std::string_view data);

}  // namespace shadowfleet

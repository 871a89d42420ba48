// Incremental one-way copy of a directory tree: files whose size or modification time differ
// are copied (each through a temporary file and a rename, so a reader never sees a torn
// file), and files missing from the source are removed from the target. This is how the
// process provider keeps a shadow's data volume fresh without copying unchanged data.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace shadowfleet {

struct DirectorySyncStats {
  int64_t files_copied = 0;
  int64_t bytes_copied = 0;
  int64_t files_removed = 0;
  int64_t files_unchanged = 0;
};

// Makes `target` a copy of `source`. Creates `target` if needed; a missing `source` is
// treated as empty. Fails with INTERNAL naming the path that could not be read or written.
absl::StatusOr<DirectorySyncStats> SyncDirectory(const std::string& source,
                                                 const std::string& target);

}  // namespace shadowfleet

#include "shadowfleet/volume/directory_sync.h"

#include <filesystem>
#include <set>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace shadowfleet {
namespace {

namespace fs = std::filesystem;

absl::Status FsError(const std::string& what, const fs::path& path, const std::error_code& ec) {
  return absl::InternalError(absl::StrCat(what, " ", path.string(), ": ", ec.message()));
}

absl::Status CopyOne(const fs::path& from, const fs::path& to, DirectorySyncStats& stats) {
  std::error_code ec;
  fs::path tmp = to;
  tmp += ".sync-tmp";
  fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec);
  if (ec) {
    return FsError("cannot copy", from, ec);
  }
  fs::last_write_time(tmp, fs::last_write_time(from, ec), ec);
  if (ec) {
    return FsError("cannot set the time of", tmp, ec);
  }
  fs::rename(tmp, to, ec);
  if (ec) {
    return FsError("cannot rename into", to, ec);
  }
  stats.files_copied++;
  stats.bytes_copied += static_cast<int64_t>(fs::file_size(to, ec));
  return absl::OkStatus();
}

bool SameFile(const fs::directory_entry& source, const fs::path& target) {
  std::error_code ec;
  auto target_status = fs::status(target, ec);
  if (ec || !fs::is_regular_file(target_status)) {
    return false;
  }
  auto target_size = fs::file_size(target, ec);
  if (ec || target_size != source.file_size(ec)) {
    return false;
  }
  auto target_time = fs::last_write_time(target, ec);
  return !ec && target_time == source.last_write_time(ec);
}

}  // namespace

absl::StatusOr<DirectorySyncStats> SyncDirectory(const std::string& source,
                                                 const std::string& target) {
  DirectorySyncStats stats;
  std::error_code ec;
  fs::create_directories(target, ec);
  if (ec) {
    return FsError("cannot create", target, ec);
  }
  std::set<fs::path> present;
  if (fs::exists(source, ec)) {
    for (auto it = fs::recursive_directory_iterator(source, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      fs::path relative = fs::relative(it->path(), source, ec);
      if (ec) {
        return FsError("cannot resolve", it->path(), ec);
      }
      present.insert(relative);
      fs::path destination = fs::path(target) / relative;
      if (it->is_directory(ec)) {
        fs::create_directories(destination, ec);
        if (ec) {
          return FsError("cannot create", destination, ec);
        }
      } else if (it->is_regular_file(ec)) {
        if (SameFile(*it, destination)) {
          stats.files_unchanged++;
        } else if (absl::Status s = CopyOne(it->path(), destination, stats); !s.ok()) {
          return s;
        }
      }
    }
    if (ec) {
      return FsError("cannot read", source, ec);
    }
  }

  // Remove what the source no longer has, deepest paths first.
  std::vector<fs::path> stale;
  for (auto it = fs::recursive_directory_iterator(target, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    fs::path relative = fs::relative(it->path(), target, ec);
    if (!ec && present.count(relative) == 0) {
      stale.push_back(it->path());
    }
  }
  for (auto it = stale.rbegin(); it != stale.rend(); ++it) {
    if (fs::remove_all(*it, ec) > 0 && !fs::is_directory(*it)) {
      stats.files_removed++;
    }
  }
  return stats;
}

}  // namespace shadowfleet

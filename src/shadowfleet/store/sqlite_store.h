// The embedded store: one SQLite database in WAL mode. Several daemons on one host may share
// the file; every write is a transaction that re-checks the revisions it depends on, so a
// concurrent writer is detected rather than overwritten.
//
// Thread-safe. Writes are serialised on one connection; reads use a second connection so that
// the API is not held up behind a large reconcile batch.
#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

#include "shadowfleet/store/store.h"

namespace shadowfleet {

namespace internal {
class Connection;
}

struct SqliteStoreOptions {
  std::string path;  // ":memory:" gives a private in-memory database (tests).
  // FULL survives power loss; NORMAL survives a crash of the process (not of the machine)
  // and is several times faster.
  bool synchronous_full = true;
  int busy_timeout_ms = 5000;
};

class SqliteStore : public Store {
 public:
  // Opens the database, creating it and applying pending schema migrations. Fails with
  // FAILED_PRECONDITION if the file was written by a newer schema than this binary knows.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const SqliteStoreOptions& options);

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;
  ~SqliteStore() override;

  static int SchemaVersion();

  absl::StatusOr<int64_t> Commit(const WriteBatch& batch) override;
  absl::StatusOr<std::optional<ObjectRecord>> Get(const std::string& kind,
                                                  const std::string& name) override;
  absl::StatusOr<std::vector<ObjectRecord>> List(const std::string& kind) override;
  absl::StatusOr<ChangeSet> ListChanges(int64_t after_revision) override;
  absl::StatusOr<int64_t> CurrentRevision() override;

  absl::StatusOr<std::vector<VersionRecord>> ReadVersions(const std::string& instance_id,
                                                          int64_t from, int64_t to) override;
  absl::StatusOr<std::optional<VersionRecord>> ReadCheckpoint(const std::string& instance_id,
                                                              int64_t version) override;
  absl::StatusOr<std::optional<VersionHead>> ReadHead(const std::string& instance_id) override;
  absl::StatusOr<std::vector<VersionHead>> ReadAllHeads() override;
  absl::StatusOr<int64_t> ReadOldestVersion(const std::string& instance_id) override;
  absl::StatusOr<LedgerStorageStats> ReadLedgerStats() override;

  absl::StatusOr<std::vector<EventRecord>> ListEvents(const EventQuery& query) override;
  absl::StatusOr<std::vector<ChunkRecord>> ReadChunks(const std::string& series, int64_t from_ms,
                                                      int64_t to_ms) override;

  absl::StatusOr<bool> TryAcquireLease(const std::string& name, const std::string& holder,
                                       int64_t now_ms, int64_t ttl_ms) override;
  absl::Status ReleaseLease(const std::string& name, const std::string& holder) override;

  // Runs VACUUM and returns the database file's size in bytes (benchmarks).
  absl::StatusOr<int64_t> CompactAndMeasure();

 private:
  SqliteStore(std::unique_ptr<internal::Connection> writer,
              std::unique_ptr<internal::Connection> reader);

  absl::Status ApplyOp(const WriteBatch::Op& op, int64_t revision)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  absl::Mutex write_mu_;
  std::unique_ptr<internal::Connection> writer_ ABSL_GUARDED_BY(write_mu_);
  absl::Mutex read_mu_;
  std::unique_ptr<internal::Connection> reader_ ABSL_GUARDED_BY(read_mu_);
};

}  // namespace shadowfleet

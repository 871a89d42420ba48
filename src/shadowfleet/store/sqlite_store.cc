#include "shadowfleet/store/sqlite_store.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/store/internal/sqlite_connection.h"

namespace shadowfleet {
namespace {

using internal::Connection;
using internal::Statement;

// Schema migrations, applied in order. Never edit a released entry: append a new one.
constexpr const char* kMigrations[] = {
    // 1: objects, ledger versions, events, leases.
    R"sql(
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO meta VALUES ('revision', 0);
    CREATE TABLE objects (
      kind TEXT NOT NULL, name TEXT NOT NULL, revision INTEGER NOT NULL,
      deleted INTEGER NOT NULL DEFAULT 0, value BLOB NOT NULL,
      PRIMARY KEY (kind, name)) WITHOUT ROWID;
    CREATE INDEX objects_by_revision ON objects (revision);
    CREATE TABLE versions (
      instance_id TEXT NOT NULL, version INTEGER NOT NULL, checkpoint INTEGER NOT NULL,
      payload BLOB NOT NULL, digest BLOB NOT NULL, created_at_ms INTEGER NOT NULL,
      author TEXT NOT NULL, reason TEXT NOT NULL, source INTEGER NOT NULL,
      tested_at_ms INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (instance_id, version)) WITHOUT ROWID;
    CREATE TABLE events (
      id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL, kind TEXT NOT NULL,
      subject TEXT NOT NULL, actor TEXT NOT NULL, message TEXT NOT NULL, details TEXT NOT NULL);
    CREATE INDEX events_by_subject ON events (subject, id);
    CREATE TABLE leases (
      name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at_ms INTEGER NOT NULL) WITHOUT ROWID;
    )sql",
    // 2: compressed time-series chunks, the history the prediction engine retrains on.
    R"sql(
    CREATE TABLE chunks (
      series TEXT NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,
      count INTEGER NOT NULL, data BLOB NOT NULL,
      PRIMARY KEY (series, start_ms)) WITHOUT ROWID;
    CREATE INDEX chunks_by_end ON chunks (end_ms);
    )sql",
};

constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

absl::Status Migrate(Connection& db) {
  SF_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  auto rollback_on_error = [&db](absl::Status status) {
    if (!status.ok()) {
      db.Exec("ROLLBACK").IgnoreError();
    }
    return status;
  };
  absl::Status status = db.Exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      "version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)");
  if (!status.ok()) {
    return rollback_on_error(status);
  }
  auto current = db.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!current.ok()) {
    return rollback_on_error(current.status());
  }
  auto row = current->Step();
  if (!row.ok()) {
    return rollback_on_error(row.status());
  }
  int version = static_cast<int>(current->Int(0));
  if (version > kSchemaVersion) {
    return rollback_on_error(absl::FailedPreconditionError(
        absl::StrCat("database schema version ", version, " is newer than this binary supports (",
                     kSchemaVersion, "); upgrade shadowfleet")));
  }
  for (int next = version + 1; next <= kSchemaVersion; ++next) {
    status = db.Exec(kMigrations[next - 1]);
    if (status.ok()) {
      status =
          db.Exec(absl::StrCat("INSERT INTO schema_migrations VALUES (", next,
                               ", CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))"));
    }
    if (!status.ok()) {
      return rollback_on_error(
          absl::InternalError(absl::StrCat("schema migration ", next, ": ", status.message())));
    }
  }
  return db.Exec("COMMIT");
}

absl::Status Configure(Connection& db, const SqliteStoreOptions& options) {
  SF_RETURN_IF_ERROR(db.Exec(absl::StrCat("PRAGMA busy_timeout = ", options.busy_timeout_ms)));
  SF_RETURN_IF_ERROR(db.Exec("PRAGMA journal_mode = WAL"));
  SF_RETURN_IF_ERROR(db.Exec(options.synchronous_full ? "PRAGMA synchronous = FULL"
                                                      : "PRAGMA synchronous = NORMAL"));
  return db.Exec("PRAGMA foreign_keys = ON");
}

VersionRecord ReadVersionRow(const Statement& s) {
  VersionRecord r;
  r.instance_id = s.Text(0);
  r.version = s.Int(1);
  r.checkpoint = s.Int(2) != 0;
  r.payload = s.Blob(3);
  r.digest = s.Blob(4);
  r.created_at_ms = s.Int(5);
  r.author = s.Text(6);
  r.reason = s.Text(7);
  r.source = static_cast<int>(s.Int(8));
  r.tested_at_ms = s.Int(9);
  return r;
}

constexpr char kVersionColumns[] =
    "instance_id, version, checkpoint, payload, digest, created_at_ms, author, reason, source, "
    "tested_at_ms";

absl::Status CheckRevision(Connection& db, const WriteBatch::Op& op) {
  if (op.expected_revision == kAnyRevision) {
    return absl::OkStatus();
  }
  SF_ASSIGN_OR_RETURN(Statement s,
                      db.Prepare("SELECT revision, deleted FROM objects WHERE kind = ?1 AND "
                                 "name = ?2"));
  s.BindText(1, op.kind).BindText(2, op.name);
  SF_ASSIGN_OR_RETURN(bool found, s.Step());
  bool exists = found && s.Int(1) == 0;
  int64_t actual = exists ? s.Int(0) : 0;
  if (actual != op.expected_revision) {
    return absl::AbortedError(absl::StrCat("concurrent modification of ", op.kind, "/", op.name,
                                           ": expected revision ", op.expected_revision, ", found ",
                                           exists ? absl::StrCat(actual) : "none"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<VersionHead>> ReadHeadObject(Connection& db,
                                                          const std::string& instance_id) {
  SF_ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT value FROM objects WHERE kind = ?1 AND "
                                              "name = ?2 AND deleted = 0"));
  s.BindText(1, kLedgerHeadObject).BindText(2, instance_id);
  SF_ASSIGN_OR_RETURN(bool found, s.Step());
  if (!found) {
    return std::nullopt;
  }
  std::optional<VersionHead> head = VersionHead::Decode(instance_id, s.Blob(0));
  if (!head) {
    return absl::DataLossError(absl::StrCat("malformed ledger head of ", instance_id));
  }
  return head;
}

absl::Status WriteHeadObject(Connection& db, const VersionHead& head, int64_t revision) {
  SF_ASSIGN_OR_RETURN(Statement s,
                      db.Prepare("INSERT OR REPLACE INTO objects (kind, name, revision, deleted, "
                                 "value) VALUES (?1, ?2, ?3, 0, ?4)"));
  s.BindText(1, kLedgerHeadObject).BindText(2, head.instance_id).Bind(3, revision);
  s.BindBlob(4, head.Encode());
  return s.Run();
}

absl::Status AppendVersion(Connection& db, const VersionRecord& r, int64_t revision) {
  SF_ASSIGN_OR_RETURN(std::optional<VersionHead> head, ReadHeadObject(db, r.instance_id));
  int64_t latest = head ? head->version : 0;
  if (r.version != latest + 1) {
    return absl::AbortedError(absl::StrCat("concurrent modification of the ledger of ",
                                           r.instance_id, ": tried to append version ", r.version,
                                           " but the latest is ", latest));
  }
  SF_ASSIGN_OR_RETURN(Statement insert, db.Prepare(absl::StrCat(
                                            "INSERT INTO versions (", kVersionColumns,
                                            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")));
  insert.BindText(1, r.instance_id).Bind(2, r.version).Bind(3, r.checkpoint ? 1 : 0);
  insert.BindBlob(4, r.payload).BindBlob(5, r.digest).Bind(6, r.created_at_ms);
  insert.BindText(7, r.author).BindText(8, r.reason).Bind(9, r.source).Bind(10, r.tested_at_ms);
  SF_RETURN_IF_ERROR(insert.Run());
  VersionHead next{r.instance_id, r.version, r.created_at_ms, head ? head->latest_tested : 0};
  if (r.tested_at_ms != 0) {
    next.latest_tested = r.version;
  }
  return WriteHeadObject(db, next, revision);
}

absl::Status MarkTested(Connection& db, const VersionRecord& r, int64_t revision) {
  SF_ASSIGN_OR_RETURN(Statement s,
                      db.Prepare("UPDATE versions SET tested_at_ms = ?3 WHERE instance_id = ?1 "
                                 "AND version = ?2 AND tested_at_ms = 0"));
  s.BindText(1, r.instance_id).Bind(2, r.version).Bind(3, r.tested_at_ms);
  SF_RETURN_IF_ERROR(s.Run());
  SF_ASSIGN_OR_RETURN(std::optional<VersionHead> head, ReadHeadObject(db, r.instance_id));
  if (!head) {
    return absl::NotFoundError(absl::StrCat("instance ", r.instance_id, " has no versions"));
  }
  if (r.version > head->latest_tested) {
    head->latest_tested = r.version;
    return WriteHeadObject(db, *head, revision);
  }
  return absl::OkStatus();
}

}  // namespace

int SqliteStore::SchemaVersion() {
  return kSchemaVersion;
}

SqliteStore::SqliteStore(std::unique_ptr<Connection> writer, std::unique_ptr<Connection> reader)
    : writer_(std::move(writer)), reader_(std::move(reader)) {}

SqliteStore::~SqliteStore() = default;

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteStoreOptions& options) {
  bool in_memory = options.path == ":memory:";
  // Two connections to one in-memory database need a shared-cache URI.
  std::string path = options.path;
  if (in_memory) {
    static std::atomic<int> counter{0};
    path = absl::StrCat("file:shadowfleet-mem-", getpid(), "-", counter++,
                        "?mode=memory&cache=shared");
  }
  SF_ASSIGN_OR_RETURN(auto writer, Connection::Open(path));
  SF_RETURN_IF_ERROR(Configure(*writer, options));
  SF_RETURN_IF_ERROR(Migrate(*writer));
  SF_ASSIGN_OR_RETURN(auto reader, Connection::Open(path));
  SF_RETURN_IF_ERROR(Configure(*reader, options));
  if (in_memory) {
    // Shared-cache readers would otherwise block on the writer's table locks.
    SF_RETURN_IF_ERROR(reader->Exec("PRAGMA read_uncommitted = ON"));
  }
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(writer), std::move(reader)));
}

absl::StatusOr<int64_t> SqliteStore::Commit(const WriteBatch& batch) {
  absl::MutexLock lock(&write_mu_);
  Connection& db = *writer_;
  SF_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  auto body = [&]() -> absl::StatusOr<int64_t> {
    SF_ASSIGN_OR_RETURN(
        Statement bump,
        db.Prepare("UPDATE meta SET value = value + 1 WHERE key = 'revision' RETURNING value"));
    SF_ASSIGN_OR_RETURN(bool row, bump.Step());
    if (!row) {
      return absl::DataLossError("sqlite: the store revision counter is missing");
    }
    int64_t revision = bump.Int(0);
    SF_RETURN_IF_ERROR(bump.Run());  // Finish the statement before the next one.
    for (const WriteBatch::Op& op : batch.ops()) {
      SF_RETURN_IF_ERROR(ApplyOp(op, revision));
    }
    return revision;
  };
  absl::StatusOr<int64_t> revision = body();
  if (!revision.ok()) {
    db.Exec("ROLLBACK").IgnoreError();
    return revision.status();
  }
  SF_RETURN_IF_ERROR(db.Exec("COMMIT"));
  return revision;
}

absl::Status SqliteStore::ApplyOp(const WriteBatch::Op& op, int64_t revision) {
  Connection& db = *writer_;
  switch (op.type) {
    case WriteBatch::OpType::kPut: {
      SF_RETURN_IF_ERROR(CheckRevision(db, op));
      SF_ASSIGN_OR_RETURN(Statement s,
                          db.Prepare("INSERT OR REPLACE INTO objects (kind, name, revision, "
                                     "deleted, value) VALUES (?1, ?2, ?3, 0, ?4)"));
      s.BindText(1, op.kind).BindText(2, op.name).Bind(3, revision).BindBlob(4, op.value);
      return s.Run();
    }
    case WriteBatch::OpType::kDelete: {
      SF_RETURN_IF_ERROR(CheckRevision(db, op));
      SF_ASSIGN_OR_RETURN(Statement s,
                          db.Prepare("UPDATE objects SET deleted = 1, value = '', revision = ?3 "
                                     "WHERE kind = ?1 AND name = ?2 AND deleted = 0"));
      s.BindText(1, op.kind).BindText(2, op.name).Bind(3, revision);
      return s.Run();
    }
    case WriteBatch::OpType::kAppendVersion:
      return AppendVersion(db, op.version, revision);
    case WriteBatch::OpType::kRewriteVersion: {
      SF_ASSIGN_OR_RETURN(Statement s,
                          db.Prepare("UPDATE versions SET payload = ?3, checkpoint = ?4 "
                                     "WHERE instance_id = ?1 AND version = ?2"));
      s.BindText(1, op.version.instance_id).Bind(2, op.version.version);
      s.BindBlob(3, op.version.payload).Bind(4, op.version.checkpoint ? 1 : 0);
      SF_RETURN_IF_ERROR(s.Run());
      if (db.Changes() == 0) {
        return absl::AbortedError(absl::StrCat("version ", op.version.version, " of ",
                                               op.version.instance_id, " no longer exists"));
      }
      return absl::OkStatus();
    }
    case WriteBatch::OpType::kMarkTested:
      return MarkTested(db, op.version, revision);
    case WriteBatch::OpType::kDeleteVersionsBefore: {
      SF_ASSIGN_OR_RETURN(Statement s, db.Prepare("DELETE FROM versions WHERE instance_id = ?1 "
                                                  "AND version < ?2"));
      s.BindText(1, op.version.instance_id).Bind(2, op.version.version);
      return s.Run();
    }
    case WriteBatch::OpType::kAppendEvent: {
      SF_ASSIGN_OR_RETURN(Statement s,
                          db.Prepare("INSERT INTO events (time_ms, kind, subject, actor, "
                                     "message, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
      const EventRecord& e = op.event;
      s.Bind(1, e.time_ms).BindText(2, e.kind).BindText(3, e.subject).BindText(4, e.actor);
      s.BindText(5, e.message).BindText(6, e.details.empty() ? "{}" : e.details);
      return s.Run();
    }
    case WriteBatch::OpType::kPutChunk: {
      SF_ASSIGN_OR_RETURN(Statement s,
                          db.Prepare("INSERT OR REPLACE INTO chunks (series, start_ms, end_ms, "
                                     "count, data) VALUES (?1, ?2, ?3, ?4, ?5)"));
      const ChunkRecord& c = op.chunk;
      s.BindText(1, c.series).Bind(2, c.start_ms).Bind(3, c.end_ms).Bind(4, c.count);
      s.BindBlob(5, c.data);
      return s.Run();
    }
    case WriteBatch::OpType::kDeleteChunksBefore: {
      SF_ASSIGN_OR_RETURN(Statement s, db.Prepare("DELETE FROM chunks WHERE end_ms < ?1"));
      s.Bind(1, op.chunk.end_ms);
      return s.Run();
    }
  }
  return absl::InternalError("unknown write operation");
}

absl::StatusOr<std::optional<ObjectRecord>> SqliteStore::Get(const std::string& kind,
                                                             const std::string& name) {
  absl::MutexLock lock(&read_mu_);
  SF_ASSIGN_OR_RETURN(Statement s,
                      reader_->Prepare("SELECT revision, value FROM objects WHERE kind = ?1 AND "
                                       "name = ?2 AND deleted = 0"));
  s.BindText(1, kind).BindText(2, name);
  SF_ASSIGN_OR_RETURN(bool found, s.Step());
  if (!found) {
    return std::nullopt;
  }
  return ObjectRecord{kind, name, s.Int(0), false, s.Blob(1)};
}

absl::StatusOr<std::vector<ObjectRecord>> SqliteStore::List(const std::string& kind) {
  absl::MutexLock lock(&read_mu_);
  SF_ASSIGN_OR_RETURN(Statement s,
                      reader_->Prepare("SELECT name, revision, value FROM objects WHERE kind = ?1 "
                                       "AND deleted = 0 ORDER BY name"));
  s.BindText(1, kind);
  std::vector<ObjectRecord> out;
  while (true) {
    SF_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    out.push_back({kind, s.Text(0), s.Int(1), false, s.Blob(2)});
  }
  return out;
}

absl::StatusOr<ChangeSet> SqliteStore::ListChanges(int64_t after_revision) {
  absl::MutexLock lock(&read_mu_);
  // Read the counter and the rows in one read transaction so that the set is consistent.
  SF_RETURN_IF_ERROR(reader_->Exec("BEGIN"));
  auto body = [&]() -> absl::StatusOr<ChangeSet> {
    ChangeSet set;
    SF_ASSIGN_OR_RETURN(Statement rev,
                        reader_->Prepare("SELECT value FROM meta WHERE key = 'revision'"));
    SF_ASSIGN_OR_RETURN(bool has, rev.Step());
    set.revision = has ? rev.Int(0) : 0;
    SF_ASSIGN_OR_RETURN(Statement s,
                        reader_->Prepare("SELECT kind, name, revision, deleted, value FROM "
                                         "objects WHERE revision > ?1 ORDER BY revision"));
    s.Bind(1, after_revision);
    while (true) {
      SF_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) {
        break;
      }
      set.changes.push_back({s.Text(0), s.Text(1), s.Int(2), s.Int(3) != 0, s.Blob(4)});
    }
    return set;
  };
  absl::StatusOr<ChangeSet> result = body();
  reader_->Exec("COMMIT").IgnoreError();
  return result;
}

absl::StatusOr<int64_t> SqliteStore::CurrentRevision() {
  absl::MutexLock lock(&read_mu_);
  SF_ASSIGN_OR_RETURN(Statement s,
                      reader_->Prepare("SELECT value FROM meta WHERE key = 'revision'"));
  SF_ASSIGN_OR_RETURN(bool found, s.Step());
  return found ? s.Int(0) : 0;
}

absl::StatusOr<std::vector<VersionRecord>> SqliteStore::ReadVersions(const std::string& instance_id,
                                                                     int64_t from, int64_t to) {
  absl::MutexLock lock(&read_mu_);
  SF_ASSIGN_OR_RETURN(Statement s,
                      reader_->Prepare(absl::StrCat("SELECT ", kVersionColumns,
                                                    " FROM versions WHERE instance_id = ?1 AND "
                                                    "version BETWEEN ?2 AND ?3 ORDER BY version")));
  s.BindText(1, instance_id).Bind(2, from).Bind(3, to);
  std::vector<VersionRecord> out;
  while (true) {
    SF_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    out.push_back(ReadVersionRow(s));
  }
  return out;
}

absl::StatusOr<std::optional<VersionRecord>> SqliteStore::ReadCheckpoint(
    const std::string& instance_id, int64_t version) {
  absl::MutexLock lock(&read_mu_);
  SF_ASSIGN_OR_RETURN(
      Statement s,
      reader_->Prepare(absl::StrCat("SELECT ", kVersionColumns,
                                    " FROM versions WHERE instance_id = ?1 AND version <= ?2 AND "
                                    "checkpoint = 1 ORDER BY version DESC LIMIT 1")));
  s.BindText(1, instance_id).Bind(2, version);
  SF_ASSIGN_OR_RETURN(bool found, s.Step());
  if (!found) {
    return std::nullopt;
  }
  return ReadVersionRow(s);
}

absl::StatusOr<std::optional<VersionHead>> SqliteStore::ReadHead(const std::string& instance_id) {
  absl::MutexLock lock(&read_mu_);
  return ReadHeadObject(*reader_, instance_id);
}

absl::StatusOr<std::vector<VersionHead>> SqliteStore::ReadAllHeads() {
  SF_ASSIGN_OR_RETURN(std::vector<ObjectRecord> objects, List(kLedgerHeadObject));
  std::vector<VersionHead> out;
  out.reserve(objects.size());
  for (const ObjectRecord& object : objects) {
    std::optional<VersionHead> head = VersionHead::Decode(object.name, object.value);
    if (!head) {
      return absl::DataLossError(absl::StrCat("malformed ledger head of ", object.name));
    }
    out.push_back(*head);
  }
  return out;
}

absl::StatusOr<int64_t> SqliteStore::ReadOldestVersion(const std::string& instance_id) {
  absl::MutexLock lock(&read_mu_);
  SF_ASSIGN_OR_RETURN(Statement s,
                      reader_->Prepare("SELECT MIN(version) FROM versions WHERE instance_id = ?1"));
  s.BindText(1, instance_id);
  SF_ASSIGN_OR_RETURN(bool found, s.Step());
  return found && !s.IsNull(0) ? s.Int(0) : 0;
}

absl::StatusOr<LedgerStorageStats> SqliteStore::ReadLedgerStats() {
  absl::MutexLock lock(&read_mu_);
  SF_ASSIGN_OR_RETURN(
      Statement s,
      reader_->Prepare("SELECT COUNT(*), COALESCE(SUM(checkpoint), 0), "
                       "COALESCE(SUM(length(payload)), 0), COALESCE(SUM(length(payload) + "
                       "length(digest) + length(instance_id) + length(author) + length(reason) + "
                       "24), 0) FROM versions"));
  SF_ASSIGN_OR_RETURN(bool found, s.Step());
  LedgerStorageStats stats;
  if (found) {
    stats.versions = s.Int(0);
    stats.checkpoints = s.Int(1);
    stats.payload_bytes = s.Int(2);
    stats.record_bytes = s.Int(3);
  }
  return stats;
}

absl::StatusOr<std::vector<EventRecord>> SqliteStore::ListEvents(const EventQuery& query) {
  absl::MutexLock lock(&read_mu_);
  // Paging forward from an id reads the oldest events after it; without one, the newest.
  bool forward = query.after_id > 0;
  SF_ASSIGN_OR_RETURN(Statement s,
                      reader_->Prepare(absl::StrCat(
                          "SELECT id, time_ms, kind, subject, actor, message, details FROM events "
                          "WHERE id > ?1 AND (?2 = '' OR subject = ?2) AND "
                          "(?3 = '' OR substr(kind, 1, length(?3)) = ?3) ORDER BY id ",
                          forward ? "ASC" : "DESC", " LIMIT ?4")));
  s.Bind(1, query.after_id).BindText(2, query.subject).BindText(3, query.kind_prefix);
  s.Bind(4, query.limit);
  std::vector<EventRecord> out;
  while (true) {
    SF_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    out.push_back({s.Int(0), s.Int(1), s.Text(2), s.Text(3), s.Text(4), s.Text(5), s.Text(6)});
  }
  if (!forward) {
    std::reverse(out.begin(), out.end());
  }
  return out;
}

absl::StatusOr<std::vector<ChunkRecord>> SqliteStore::ReadChunks(const std::string& series,
                                                                 int64_t from_ms, int64_t to_ms) {
  absl::MutexLock lock(&read_mu_);
  SF_ASSIGN_OR_RETURN(
      Statement s,
      reader_->Prepare("SELECT series, start_ms, end_ms, count, data FROM chunks WHERE "
                       "(?1 = '' OR series = ?1) AND end_ms >= ?2 AND start_ms <= ?3 "
                       "ORDER BY series, start_ms"));
  s.BindText(1, series).Bind(2, from_ms).Bind(3, to_ms);
  std::vector<ChunkRecord> out;
  while (true) {
    SF_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    out.push_back({s.Text(0), s.Int(1), s.Int(2), static_cast<int>(s.Int(3)), s.Blob(4)});
  }
  return out;
}

absl::StatusOr<bool> SqliteStore::TryAcquireLease(const std::string& name,
                                                  const std::string& holder, int64_t now_ms,
                                                  int64_t ttl_ms) {
  absl::MutexLock lock(&write_mu_);
  Connection& db = *writer_;
  // A single statement is atomic: it takes the lease only if it is free, expired or ours.
  SF_ASSIGN_OR_RETURN(
      Statement s,
      db.Prepare("INSERT INTO leases (name, holder, expires_at_ms) VALUES (?1, ?2, ?3) "
                 "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                 "expires_at_ms = excluded.expires_at_ms "
                 "WHERE leases.holder = excluded.holder OR leases.expires_at_ms < ?4"));
  s.BindText(1, name).BindText(2, holder).Bind(3, now_ms + ttl_ms).Bind(4, now_ms);
  SF_RETURN_IF_ERROR(s.Run());
  return db.Changes() > 0;
}

absl::Status SqliteStore::ReleaseLease(const std::string& name, const std::string& holder) {
  absl::MutexLock lock(&write_mu_);
  SF_ASSIGN_OR_RETURN(Statement s,
                      writer_->Prepare("DELETE FROM leases WHERE name = ?1 AND holder = ?2"));
  s.BindText(1, name).BindText(2, holder);
  return s.Run();
}

absl::StatusOr<int64_t> SqliteStore::CompactAndMeasure() {
  absl::MutexLock lock(&write_mu_);
  SF_RETURN_IF_ERROR(writer_->Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  SF_RETURN_IF_ERROR(writer_->Exec("VACUUM"));
  SF_ASSIGN_OR_RETURN(Statement pages, writer_->Prepare("PRAGMA page_count"));
  SF_ASSIGN_OR_RETURN(bool has_pages, pages.Step());
  int64_t page_count = has_pages ? pages.Int(0) : 0;
  SF_RETURN_IF_ERROR(pages.Run());
  SF_ASSIGN_OR_RETURN(Statement size, writer_->Prepare("PRAGMA page_size"));
  SF_ASSIGN_OR_RETURN(bool has_size, size.Step());
  return page_count * (has_size ? size.Int(0) : 0);
}

}  // namespace shadowfleet

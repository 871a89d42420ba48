// The state store: the only place shadowfleet keeps state, so that any daemon sharing it can
// take over from any other. It holds
//   - versioned objects (fleet specs, instances, shadows, volume status ...), each a JSON value
//     with a revision taken from one store-wide counter, for optimistic concurrency and for
//     "what changed since revision R" catch-up by other daemons;
//   - the configuration ledger's versions (see ledger/ledger.h);
//   - an append-only event log (the audit trail);
//   - leases, for electing one worker per job among several daemons.
// Writes go through WriteBatch and are atomic: all of a batch or nothing.
//
// Implementations: SqliteStore (embedded default). All methods are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shadowfleet {

// A stored object. `revision` is the store revision of the batch that last wrote it.
struct ObjectRecord {
  std::string kind;
  std::string name;
  int64_t revision = 0;
  bool deleted = false;  // Only in ListChanges(): a tombstone.
  std::string value;
};

// One version of one instance's configuration, as the ledger encodes it.
struct VersionRecord {
  std::string instance_id;
  int64_t version = 0;
  bool checkpoint = false;  // payload holds the full document, not a delta.
  std::string payload;
  std::string digest;  // SHA-256 of the canonical document of this version.
  int64_t created_at_ms = 0;
  std::string author;
  std::string reason;
  int source = 0;
  int64_t tested_at_ms = 0;  // 0: not marked tested.
};

// The newest version of one instance. The store keeps it as an object of kind
// kLedgerHeadObject, updated in the same transaction as every append, so that other daemons
// learn of new versions through ListChanges().
struct VersionHead {
  std::string instance_id;
  int64_t version = 0;
  int64_t created_at_ms = 0;
  int64_t latest_tested = 0;  // Highest version marked tested; 0 if none.

  std::string Encode() const;
  // Returns nullopt for a malformed value.
  static std::optional<VersionHead> Decode(const std::string& instance_id,
                                           const std::string& value);
};

inline constexpr char kLedgerHeadObject[] = "ledger.head";

struct EventRecord {
  int64_t id = 0;  // Assigned by the store.
  int64_t time_ms = 0;
  std::string kind;     // Dotted, e.g. "shadow.created", "version.recorded".
  std::string subject;  // Usually an instance id.
  std::string actor;    // Who: a user, "reconciler", "observer" ...
  std::string message;
  std::string details;  // JSON.
};

// A compressed block of one time series (telemetry/gorilla.h) kept for model training.
struct ChunkRecord {
  std::string series;  // "<instance>/<feature>" or another stable series key.
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  int count = 0;
  std::string data;
};

// Without after_id, the newest `limit` events; with one, the oldest `limit` events after it
// (paging forward). Either way the result is in id order.
struct EventQuery {
  std::string subject;      // Empty: any.
  std::string kind_prefix;  // Empty: any.
  int64_t after_id = 0;
  int limit = 100;
};

inline constexpr int64_t kAnyRevision = -1;
inline constexpr int64_t kMustNotExist = 0;

// Writes applied together. Building a batch touches nothing; Store::Commit applies it.
class WriteBatch {
 public:
  enum class OpType {
    kPut,
    kDelete,
    kAppendVersion,
    kRewriteVersion,
    kMarkTested,
    kDeleteVersionsBefore,
    kAppendEvent,
    kPutChunk,
    kDeleteChunksBefore,
  };
  struct Op {
    OpType type;
    std::string kind;
    std::string name;
    std::string value;
    int64_t expected_revision = kAnyRevision;
    VersionRecord version;
    EventRecord event;
    ChunkRecord chunk;
  };

  // Creates or replaces an object. `expected_revision`: kMustNotExist, the revision last read,
  // or kAnyRevision. A mismatch aborts the whole batch.
  void Put(std::string kind, std::string name, std::string value, int64_t expected_revision);
  void Delete(std::string kind, std::string name, int64_t expected_revision);
  // Fails the batch if the instance already has this version (another writer got there first).
  void AppendVersion(VersionRecord record);
  // Replaces payload and checkpoint flag of an existing version (compaction).
  void RewriteVersion(VersionRecord record);
  void MarkTested(std::string instance_id, int64_t version, int64_t tested_at_ms);
  void DeleteVersionsBefore(std::string instance_id, int64_t version);
  void AppendEvent(EventRecord event);
  // Stores a time-series chunk (replacing one with the same series and start).
  void PutChunk(ChunkRecord chunk);
  // Removes chunks of every series that end before `end_ms` (retention).
  void DeleteChunksBefore(int64_t end_ms);

  const std::vector<Op>& ops() const { return ops_; }
  bool empty() const { return ops_.empty(); }

 private:
  std::vector<Op> ops_;
};

struct ChangeSet {
  std::vector<ObjectRecord> changes;  // In revision order; tombstones have deleted = true.
  int64_t revision = 0;               // The store revision the change set is complete up to.
};

struct LedgerStorageStats {
  int64_t versions = 0;
  int64_t checkpoints = 0;
  int64_t payload_bytes = 0;
  int64_t record_bytes = 0;  // payload + digest + metadata columns.
};

class Store {
 public:
  virtual ~Store() = default;

  // Applies `batch` atomically. Returns the new store revision. ABORTED when an expected
  // revision does not match or a version already exists: the caller re-reads and retries.
  virtual absl::StatusOr<int64_t> Commit(const WriteBatch& batch) = 0;

  virtual absl::StatusOr<std::optional<ObjectRecord>> Get(const std::string& kind,
                                                          const std::string& name) = 0;
  virtual absl::StatusOr<std::vector<ObjectRecord>> List(const std::string& kind) = 0;
  // Objects of any kind written after `after_revision`, including deletions.
  virtual absl::StatusOr<ChangeSet> ListChanges(int64_t after_revision) = 0;
  virtual absl::StatusOr<int64_t> CurrentRevision() = 0;

  // Versions of `instance_id` in [from, to], in order.
  virtual absl::StatusOr<std::vector<VersionRecord>> ReadVersions(const std::string& instance_id,
                                                                  int64_t from, int64_t to) = 0;
  // The newest checkpoint at or before `version`.
  virtual absl::StatusOr<std::optional<VersionRecord>> ReadCheckpoint(
      const std::string& instance_id, int64_t version) = 0;
  virtual absl::StatusOr<std::optional<VersionHead>> ReadHead(const std::string& instance_id) = 0;
  virtual absl::StatusOr<std::vector<VersionHead>> ReadAllHeads() = 0;
  // The oldest version still stored (after compaction), or 0 if none.
  virtual absl::StatusOr<int64_t> ReadOldestVersion(const std::string& instance_id) = 0;
  virtual absl::StatusOr<LedgerStorageStats> ReadLedgerStats() = 0;

  virtual absl::StatusOr<std::vector<EventRecord>> ListEvents(const EventQuery& query) = 0;

  // Chunks of `series` overlapping [from_ms, to_ms], oldest first. An empty series name
  // reads every series.
  virtual absl::StatusOr<std::vector<ChunkRecord>> ReadChunks(const std::string& series,
                                                              int64_t from_ms, int64_t to_ms) = 0;

  // Takes or renews the lease `name` for `holder` until now + ttl. Returns false if another
  // holder's lease has not expired.
  virtual absl::StatusOr<bool> TryAcquireLease(const std::string& name, const std::string& holder,
                                               int64_t now_ms, int64_t ttl_ms) = 0;
  virtual absl::Status ReleaseLease(const std::string& name, const std::string& holder) = 0;
};

}  // namespace shadowfleet

// The configuration ledger: the version history of every instance's configuration document.
//
// Each change to a live instance's configuration becomes a new version, stored as an RFC 6902
// JSON Patch from the previous version, with a full (compressed) checkpoint whenever the chain
// of deltas since the last checkpoint grows past a length or byte budget. Rebuilding any
// version therefore reads one checkpoint and at most `max_chain_length` small deltas. Every
// version carries the SHA-256 of its canonical document, checked on every rebuild.
//
// Example:
//   Ledger ledger(&store, &RealClock());
//   auto v = ledger.Record("web-0", document, {"alice", "bump openssl", ChangeSource::kRecorded});
//   auto patch = ledger.Diff("web-0", 3, v->info.version);
//
// Thread-safe. Appends to one instance are serialised in-process; appends from other
// processes sharing the store are detected (ABORTED from the store) and retried.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include <nlohmann/json.hpp>

#include "shadowfleet/common/clock.h"
#include "shadowfleet/store/store.h"

namespace shadowfleet {

// How a version reached the ledger.
enum class ChangeSource {
  kSpec = 0,      // A fleet spec was applied.
  kRecorded = 1,  // Recorded through the API or CLI.
  kObserved = 2,  // The provider reported live's actual configuration differing from the ledger.
};

const char* ChangeSourceName(ChangeSource source);

struct ChangeMeta {
  std::string author;
  std::string reason;
  ChangeSource source = ChangeSource::kRecorded;
};

struct VersionInfo {
  std::string instance_id;
  int64_t version = 0;
  std::string digest;  // Hex SHA-256 of the canonical document.
  absl::Time created_at;
  std::string author;
  std::string reason;
  ChangeSource source = ChangeSource::kRecorded;
  std::optional<absl::Time> tested_at;
  bool checkpoint = false;
  int64_t stored_bytes = 0;

  nlohmann::json ToJson() const;
};

struct RecordResult {
  VersionInfo info;
  bool created = false;  // False when the document equalled the latest version.
};

struct LedgerOptions {
  // A checkpoint is written when the deltas since the last one would exceed either budget.
  int max_chain_length = 100;
  // Delta bytes since the checkpoint, relative to the document's (uncompressed) size: a rebuild
  // then reads one document and at most this many documents' worth of patches.
  double max_chain_bytes_ratio = 1.0;
  size_t cache_capacity = 4096;  // Latest documents kept in memory.
  bool record_events = true;     // Append a "version.recorded" event with each version.
};

// What compaction keeps: the newest `keep_versions` versions, and every version younger than
// `keep_for`. Versions a shadow still needs are kept regardless (see Compact()).
struct RetentionPolicy {
  int64_t keep_versions = 1000;
  absl::Duration keep_for = absl::Hours(24 * 30);
};

struct CompactionResult {
  int64_t removed_versions = 0;
  int64_t oldest_kept = 0;
};

class Ledger {
 public:
  Ledger(Store* store, Clock* clock, LedgerOptions options = {});
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Appends `document` as the next version of `instance_id` unless it equals the latest.
  // `also` (optional) is committed in the same transaction as the new version.
  // INVALID_ARGUMENT if `document` is not a JSON object.
  absl::StatusOr<RecordResult> Record(const std::string& instance_id,
                                      const nlohmann::json& document, const ChangeMeta& meta,
                                      const WriteBatch* also = nullptr);

  // Applies an RFC 6902 patch to the latest version and records the result. INVALID_ARGUMENT
  // (naming the failing operation) if the patch does not apply; NOT_FOUND if the instance has
  // no versions yet.
  absl::StatusOr<RecordResult> RecordPatch(const std::string& instance_id,
                                           const nlohmann::json& patch, const ChangeMeta& meta);

  // Applies RFC 7386 merge-patch semantics: keys in `partial` replace, null removes.
  absl::StatusOr<RecordResult> RecordMerge(const std::string& instance_id,
                                           const nlohmann::json& partial, const ChangeMeta& meta);

  // The document at `version`. NOT_FOUND if the version does not exist or was compacted away;
  // DATA_LOSS if the stored bytes do not rebuild to the recorded digest.
  absl::StatusOr<nlohmann::json> Document(const std::string& instance_id, int64_t version);

  // The newest version, or nullopt if the instance has none.
  absl::StatusOr<std::optional<VersionHead>> Head(const std::string& instance_id);

  absl::StatusOr<VersionInfo> Info(const std::string& instance_id, int64_t version);
  // Versions in [from, to] (to = 0: up to the newest), oldest first.
  absl::StatusOr<std::vector<VersionInfo>> History(const std::string& instance_id, int64_t from,
                                                   int64_t to);

  // The RFC 6902 patch that turns version `from` into version `to` (either may be older).
  absl::StatusOr<nlohmann::json> Diff(const std::string& instance_id, int64_t from, int64_t to);

  absl::Status MarkTested(const std::string& instance_id, int64_t version,
                          const std::string& author);

  // Removes versions outside `policy`, never removing `keep_at_least_from` or newer (the
  // oldest version something still refers to, e.g. a shadow's current version). The new
  // oldest version is rewritten as a checkpoint in the same transaction.
  absl::StatusOr<CompactionResult> Compact(const std::string& instance_id,
                                           const RetentionPolicy& policy,
                                           int64_t keep_at_least_from);

  // Rebuilds every stored version and checks its digest. DATA_LOSS names the first bad one.
  absl::Status Verify(const std::string& instance_id);

 private:
  // What the ledger remembers about an instance's newest version.
  struct Tip {
    int64_t version = 0;
    nlohmann::json document;
    std::string digest;
    int chain_length = 0;        // Deltas since the last checkpoint.
    int64_t chain_bytes = 0;     // Their payload bytes.
    int64_t document_bytes = 0;  // Size of the document's canonical text.
  };

  // Derives the document to record from the latest version (the tip).
  using NextDocumentFn = std::function<absl::StatusOr<nlohmann::json>(const Tip& tip)>;

  absl::StatusOr<Tip> LoadTip(const std::string& instance_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records next_document(tip), starting over from a freshly loaded tip when another writer
  // appended in between (up to a few times).
  absl::StatusOr<RecordResult> RecordWithRetry(const std::string& instance_id,
                                               const NextDocumentFn& next_document,
                                               const ChangeMeta& meta, const WriteBatch* also)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<RecordResult> RecordLocked(const std::string& instance_id,
                                            const NextDocumentFn& next_document,
                                            const ChangeMeta& meta, const WriteBatch* also)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<nlohmann::json> Rebuild(const std::string& instance_id, int64_t version);
  void CacheTip(const std::string& instance_id, Tip tip) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ForgetTip(const std::string& instance_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Store* const store_;
  Clock* const clock_;
  const LedgerOptions options_;

  absl::Mutex mu_;
  // An LRU cache of tips; the list holds instance ids, most recently used first.
  std::unordered_map<std::string, std::pair<Tip, std::list<std::string>::iterator>> tips_
      ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);
};

// Decodes a stored payload (delta or checkpoint) into JSON. DATA_LOSS on corrupt bytes.
absl::StatusOr<nlohmann::json> DecodePayload(const std::string& payload);
// Encodes JSON for storage, compressing it when that saves space.
std::string EncodePayload(const nlohmann::json& value);
// Hex SHA-256 of the canonical (sorted-key, compact) serialisation of `document`.
std::string DocumentDigest(const nlohmann::json& document);

}  // namespace shadowfleet

#include "shadowfleet/ledger/ledger.h"

#include <limits>

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/compression.h"
#include "shadowfleet/common/digest.h"
#include "shadowfleet/common/logging.h"
#include "shadowfleet/common/status_macros.h"

namespace shadowfleet {
namespace {

constexpr char kPlainTag = 'J';
constexpr char kCompressedTag = 'Z';
// Payloads smaller than this are stored as plain text: zlib's header would outweigh the gain.
constexpr size_t kCompressThreshold = 200;
constexpr int kAppendAttempts = 3;

VersionInfo InfoFromRecord(const VersionRecord& r) {
  VersionInfo info;
  info.instance_id = r.instance_id;
  info.version = r.version;
  info.digest = HexEncode(r.digest);
  info.created_at = absl::FromUnixMillis(r.created_at_ms);
  info.author = r.author;
  info.reason = r.reason;
  info.source = static_cast<ChangeSource>(r.source);
  if (r.tested_at_ms != 0) {
    info.tested_at = absl::FromUnixMillis(r.tested_at_ms);
  }
  info.checkpoint = r.checkpoint;
  info.stored_bytes = static_cast<int64_t>(r.payload.size());
  return info;
}

// Applies a JSON patch, turning the library's exceptions into a status naming the operation.
absl::StatusOr<nlohmann::json> ApplyPatch(const nlohmann::json& document,
                                          const nlohmann::json& patch) {
  try {
    return document.patch(patch);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("the patch does not apply: ", e.what()));
  }
}

// Applies a delta read back from the store. A stored delta that does not apply means the stored
// bytes are damaged: DATA_LOSS, like a digest mismatch.
absl::StatusOr<nlohmann::json> ApplyStoredDelta(const nlohmann::json& document,
                                                const nlohmann::json& patch,
                                                const VersionRecord& delta) {
  absl::StatusOr<nlohmann::json> out = ApplyPatch(document, patch);
  if (!out.ok()) {
    return absl::DataLossError(absl::StrCat("version ", delta.version, " of ", delta.instance_id,
                                            ": ", out.status().message()));
  }
  return out;
}

}  // namespace

const char* ChangeSourceName(ChangeSource source) {
  switch (source) {
    case ChangeSource::kSpec:
      return "spec";
    case ChangeSource::kRecorded:
      return "recorded";
    case ChangeSource::kObserved:
      return "observed";
  }
  return "unknown";
}

nlohmann::json VersionInfo::ToJson() const {
  nlohmann::json j = {
      {"instance", instance_id},
      {"version", version},
      {"digest", digest},
      {"createdAt", absl::FormatTime(absl::RFC3339_full, created_at, absl::UTCTimeZone())},
      {"author", author},
      {"reason", reason},
      {"source", ChangeSourceName(source)},
      {"checkpoint", checkpoint},
      {"storedBytes", stored_bytes},
  };
  j["testedAt"] =
      tested_at
          ? nlohmann::json(absl::FormatTime(absl::RFC3339_full, *tested_at, absl::UTCTimeZone()))
          : nlohmann::json(nullptr);
  return j;
}

std::string EncodePayload(const nlohmann::json& value) {
  std::string text = value.dump();
  if (text.size() >= kCompressThreshold) {
    std::string compressed = Compress(text);
    if (compressed.size() + 1 < text.size()) {
      return std::string(1, kCompressedTag) + compressed;
    }
  }
  return std::string(1, kPlainTag) + text;
}

absl::StatusOr<nlohmann::json> DecodePayload(const std::string& payload) {
  if (payload.empty()) {
    return absl::DataLossError("empty ledger payload");
  }
  std::string text;
  if (payload[0] == kCompressedTag) {
    SF_ASSIGN_OR_RETURN(text, Decompress(std::string_view(payload).substr(1)));
  } else if (payload[0] == kPlainTag) {
    text = payload.substr(1);
  } else {
    return absl::DataLossError(
        absl::StrCat("unknown ledger payload encoding ", static_cast<int>(payload[0])));
  }
  nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    return absl::DataLossError("ledger payload is not valid JSON");
  }
  return value;
}

std::string DocumentDigest(const nlohmann::json& document) {
  return HexEncode(Sha256(document.dump()));
}

Ledger::Ledger(Store* store, Clock* clock, LedgerOptions options)
    : store_(store), clock_(clock), options_(options) {}

absl::StatusOr<RecordResult> Ledger::Record(const std::string& instance_id,
                                            const nlohmann::json& document, const ChangeMeta& meta,
                                            const WriteBatch* also) {
  if (!document.is_object()) {
    return absl::InvalidArgumentError("a configuration document must be a JSON object");
  }
  return RecordWithRetry(
      instance_id, [&](const Tip&) -> absl::StatusOr<nlohmann::json> { return document; }, meta,
      also);
}

absl::StatusOr<RecordResult> Ledger::RecordWithRetry(const std::string& instance_id,
                                                     const NextDocumentFn& next_document,
                                                     const ChangeMeta& meta,
                                                     const WriteBatch* also) {
  absl::MutexLock lock(&mu_);
  absl::Status last;
  for (int attempt = 0; attempt < kAppendAttempts; ++attempt) {
    absl::StatusOr<RecordResult> result = RecordLocked(instance_id, next_document, meta, also);
    if (result.ok() || !absl::IsAborted(result.status())) {
      return result;
    }
    // Another writer appended first: reload the tip and derive the document again.
    last = result.status();
    ForgetTip(instance_id);
  }
  return last;
}

absl::StatusOr<RecordResult> Ledger::RecordLocked(const std::string& instance_id,
                                                  const NextDocumentFn& next_document,
                                                  const ChangeMeta& meta, const WriteBatch* also) {
  SF_ASSIGN_OR_RETURN(Tip tip, LoadTip(instance_id));
  SF_ASSIGN_OR_RETURN(nlohmann::json document, next_document(tip));
  std::string canonical = document.dump();
  std::string digest = Sha256(canonical);
  if (tip.version > 0 && digest == tip.digest) {
    // A cached tip is stale if another process appended since: only the store's head can
    // confirm that this document is still the latest (ABORTED retries with a fresh tip).
    SF_ASSIGN_OR_RETURN(std::optional<VersionHead> head, store_->ReadHead(instance_id));
    if (!head || head->version != tip.version) {
      return absl::AbortedError(
          absl::StrCat("the ledger of ", instance_id, " changed since its tip was cached"));
    }
    SF_ASSIGN_OR_RETURN(VersionInfo info, Info(instance_id, tip.version));
    return RecordResult{std::move(info), false};
  }

  VersionRecord record;
  record.instance_id = instance_id;
  record.version = tip.version + 1;
  record.digest = digest;
  record.created_at_ms = absl::ToUnixMillis(clock_->Now());
  record.author = meta.author;
  record.reason = meta.reason;
  record.source = static_cast<int>(meta.source);

  // A delta unless the chain since the last checkpoint would grow past its budget. nlohmann's
  // diff takes numbers of equal value as equal (4 and 4.0), so a delta may not rebuild the
  // document's exact text: such a version is written as a checkpoint instead.
  std::string delta;
  bool exact_delta = false;
  if (tip.version > 0) {
    nlohmann::json patch = nlohmann::json::diff(tip.document, document);
    absl::StatusOr<nlohmann::json> rebuilt = ApplyPatch(tip.document, patch);
    exact_delta = rebuilt.ok() && rebuilt->dump() == canonical;
    delta = EncodePayload(patch);
  }
  bool checkpoint = tip.version == 0 || !exact_delta ||
                    tip.chain_length + 1 > options_.max_chain_length ||
                    static_cast<double>(tip.chain_bytes + static_cast<int64_t>(delta.size())) >
                        options_.max_chain_bytes_ratio * static_cast<double>(tip.document_bytes);
  record.checkpoint = checkpoint;
  record.payload = checkpoint ? EncodePayload(document) : std::move(delta);

  WriteBatch batch;
  if (also != nullptr) {
    batch = *also;
  }
  batch.AppendVersion(record);
  if (options_.record_events) {
    batch.AppendEvent({0, record.created_at_ms, "version.recorded", instance_id, meta.author,
                       absl::StrCat("version ", record.version, " (", ChangeSourceName(meta.source),
                                    "): ", meta.reason),
                       nlohmann::json{{"version", record.version}}.dump()});
  }
  SF_RETURN_IF_ERROR(store_->Commit(batch).status());

  Tip next;
  next.version = record.version;
  next.document = document;
  next.digest = digest;
  next.chain_length = checkpoint ? 0 : tip.chain_length + 1;
  next.chain_bytes = checkpoint ? 0 : tip.chain_bytes + static_cast<int64_t>(record.payload.size());
  next.document_bytes = static_cast<int64_t>(canonical.size());
  CacheTip(instance_id, std::move(next));
  return RecordResult{InfoFromRecord(record), true};
}

absl::StatusOr<RecordResult> Ledger::RecordPatch(const std::string& instance_id,
                                                 const nlohmann::json& patch,
                                                 const ChangeMeta& meta) {
  if (!patch.is_array()) {
    return absl::InvalidArgumentError("a JSON Patch must be an array of operations");
  }
  auto patched = [&](const Tip& tip) -> absl::StatusOr<nlohmann::json> {
    if (tip.version == 0) {
      return absl::NotFoundError(absl::StrCat("instance ", instance_id, " has no configuration"));
    }
    SF_ASSIGN_OR_RETURN(nlohmann::json document, ApplyPatch(tip.document, patch));
    if (!document.is_object()) {
      return absl::InvalidArgumentError("the patch must leave the document a JSON object");
    }
    return document;
  };
  return RecordWithRetry(instance_id, patched, meta, nullptr);
}

absl::StatusOr<RecordResult> Ledger::RecordMerge(const std::string& instance_id,
                                                 const nlohmann::json& partial,
                                                 const ChangeMeta& meta) {
  if (!partial.is_object()) {
    return absl::InvalidArgumentError("a merge patch must be a JSON object");
  }
  auto merged = [&](const Tip& tip) -> absl::StatusOr<nlohmann::json> {
    nlohmann::json document = tip.document.is_object() ? tip.document : nlohmann::json::object();
    document.merge_patch(partial);
    return document;
  };
  return RecordWithRetry(instance_id, merged, meta, nullptr);
}

absl::StatusOr<Ledger::Tip> Ledger::LoadTip(const std::string& instance_id) {
  auto it = tips_.find(instance_id);
  if (it != tips_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.second);
    return it->second.first;
  }
  Tip tip;
  SF_ASSIGN_OR_RETURN(std::optional<VersionHead> head, store_->ReadHead(instance_id));
  if (!head) {
    return tip;
  }
  SF_ASSIGN_OR_RETURN(std::optional<VersionRecord> checkpoint,
                      store_->ReadCheckpoint(instance_id, head->version));
  if (!checkpoint) {
    return absl::DataLossError(absl::StrCat(
        "the ledger of ", instance_id, " has no checkpoint at or before version ", head->version));
  }
  SF_ASSIGN_OR_RETURN(tip.document, DecodePayload(checkpoint->payload));

  SF_ASSIGN_OR_RETURN(std::vector<VersionRecord> deltas,
                      store_->ReadVersions(instance_id, checkpoint->version + 1, head->version));
  std::string digest = checkpoint->digest;
  for (const VersionRecord& delta : deltas) {
    SF_ASSIGN_OR_RETURN(nlohmann::json patch, DecodePayload(delta.payload));
    SF_ASSIGN_OR_RETURN(tip.document, ApplyStoredDelta(tip.document, patch, delta));
    tip.chain_length++;
    tip.chain_bytes += static_cast<int64_t>(delta.payload.size());
    digest = delta.digest;
  }
  std::string canonical = tip.document.dump();
  tip.document_bytes = static_cast<int64_t>(canonical.size());
  if (Sha256(canonical) != digest) {
    return absl::DataLossError(absl::StrCat("the ledger of ", instance_id, " does not rebuild ",
                                            "version ", head->version, " to its digest"));
  }
  tip.version = head->version;
  tip.digest = digest;
  CacheTip(instance_id, tip);
  return tip;
}

void Ledger::CacheTip(const std::string& instance_id, Tip tip) {
  auto it = tips_.find(instance_id);
  if (it != tips_.end()) {
    it->second.first = std::move(tip);
    lru_.splice(lru_.begin(), lru_, it->second.second);
    return;
  }
  lru_.push_front(instance_id);
  tips_.emplace(instance_id, std::make_pair(std::move(tip), lru_.begin()));
  while (tips_.size() > options_.cache_capacity && !lru_.empty()) {
    tips_.erase(lru_.back());
    lru_.pop_back();
  }
}

void Ledger::ForgetTip(const std::string& instance_id) {
  auto it = tips_.find(instance_id);
  if (it != tips_.end()) {
    lru_.erase(it->second.second);
    tips_.erase(it);
  }
}

absl::StatusOr<nlohmann::json> Ledger::Document(const std::string& instance_id, int64_t version) {
  {
    absl::MutexLock lock(&mu_);
    auto it = tips_.find(instance_id);
    if (it != tips_.end() && it->second.first.version == version) {
      return it->second.first.document;
    }
  }
  return Rebuild(instance_id, version);
}

absl::StatusOr<nlohmann::json> Ledger::Rebuild(const std::string& instance_id, int64_t version) {
  SF_ASSIGN_OR_RETURN(std::optional<VersionRecord> checkpoint,
                      store_->ReadCheckpoint(instance_id, version));
  if (!checkpoint) {
    return absl::NotFoundError(absl::StrCat("instance ", instance_id, " has no version ", version));
  }
  SF_ASSIGN_OR_RETURN(nlohmann::json document, DecodePayload(checkpoint->payload));
  std::string digest = checkpoint->digest;
  if (checkpoint->version != version) {
    SF_ASSIGN_OR_RETURN(std::vector<VersionRecord> deltas,
                        store_->ReadVersions(instance_id, checkpoint->version + 1, version));
    if (deltas.empty() || deltas.back().version != version) {
      return absl::NotFoundError(
          absl::StrCat("instance ", instance_id, " has no version ", version));
    }
    for (const VersionRecord& delta : deltas) {
      SF_ASSIGN_OR_RETURN(nlohmann::json patch, DecodePayload(delta.payload));
      SF_ASSIGN_OR_RETURN(document, ApplyStoredDelta(document, patch, delta));
    }
    digest = deltas.back().digest;
  }
  if (Sha256(document.dump()) != digest) {
    return absl::DataLossError(absl::StrCat("version ", version, " of ", instance_id,
                                            " does not rebuild to its recorded digest"));
  }
  return document;
}

absl::StatusOr<std::optional<VersionHead>> Ledger::Head(const std::string& instance_id) {
  return store_->ReadHead(instance_id);
}

absl::StatusOr<VersionInfo> Ledger::Info(const std::string& instance_id, int64_t version) {
  SF_ASSIGN_OR_RETURN(std::vector<VersionRecord> records,
                      store_->ReadVersions(instance_id, version, version));
  if (records.empty()) {
    return absl::NotFoundError(absl::StrCat("instance ", instance_id, " has no version ", version));
  }
  return InfoFromRecord(records.front());
}

absl::StatusOr<std::vector<VersionInfo>> Ledger::History(const std::string& instance_id,
                                                         int64_t from, int64_t to) {
  if (to <= 0) {
    to = std::numeric_limits<int64_t>::max();
  }
  SF_ASSIGN_OR_RETURN(std::vector<VersionRecord> records,
                      store_->ReadVersions(instance_id, from, to));
  std::vector<VersionInfo> out;
  out.reserve(records.size());
  for (const VersionRecord& r : records) {
    out.push_back(InfoFromRecord(r));
  }
  return out;
}

absl::StatusOr<nlohmann::json> Ledger::Diff(const std::string& instance_id, int64_t from,
                                            int64_t to) {
  SF_ASSIGN_OR_RETURN(nlohmann::json a, Document(instance_id, from));
  SF_ASSIGN_OR_RETURN(nlohmann::json b, Document(instance_id, to));
  return nlohmann::json::diff(a, b);
}

absl::Status Ledger::MarkTested(const std::string& instance_id, int64_t version,
                                const std::string& author) {
  SF_RETURN_IF_ERROR(Info(instance_id, version).status());
  int64_t now = absl::ToUnixMillis(clock_->Now());
  WriteBatch batch;
  batch.MarkTested(instance_id, version, now);
  batch.AppendEvent({0, now, "version.tested", instance_id, author,
                     absl::StrCat("version ", version, " marked tested on live"),
                     nlohmann::json{{"version", version}}.dump()});
  return store_->Commit(batch).status();
}

absl::StatusOr<CompactionResult> Ledger::Compact(const std::string& instance_id,
                                                 const RetentionPolicy& policy,
                                                 int64_t keep_at_least_from) {
  CompactionResult result;
  SF_ASSIGN_OR_RETURN(std::optional<VersionHead> head, store_->ReadHead(instance_id));
  SF_ASSIGN_OR_RETURN(int64_t oldest, store_->ReadOldestVersion(instance_id));
  if (!head || oldest == 0) {
    return result;
  }
  // The oldest version the policy keeps by count, then moved older to keep recent ones by age.
  int64_t keep_from = std::max<int64_t>(oldest, head->version - policy.keep_versions + 1);
  absl::Time age_cutoff = clock_->Now() - policy.keep_for;
  SF_ASSIGN_OR_RETURN(std::vector<VersionRecord> candidates,
                      store_->ReadVersions(instance_id, oldest, keep_from - 1));
  for (const VersionRecord& r : candidates) {
    if (absl::FromUnixMillis(r.created_at_ms) > age_cutoff) {
      keep_from = r.version;
      break;
    }
  }
  if (keep_at_least_from > 0) {
    keep_from = std::min(keep_from, keep_at_least_from);
  }
  // The newest version is never removed, whatever the policy: the head refers to it.
  keep_from = std::min(keep_from, head->version);
  result.oldest_kept = std::max(keep_from, oldest);
  if (keep_from <= oldest) {
    return result;
  }

  SF_ASSIGN_OR_RETURN(nlohmann::json document, Document(instance_id, keep_from));
  SF_ASSIGN_OR_RETURN(std::vector<VersionRecord> kept,
                      store_->ReadVersions(instance_id, keep_from, keep_from));
  if (kept.empty()) {
    return absl::AbortedError("the ledger changed during compaction");
  }
  WriteBatch batch;
  if (!kept.front().checkpoint) {
    VersionRecord rewritten = kept.front();
    rewritten.checkpoint = true;
    rewritten.payload = EncodePayload(document);
    batch.RewriteVersion(rewritten);
  }
  batch.DeleteVersionsBefore(instance_id, keep_from);
  result.removed_versions = keep_from - oldest;
  batch.AppendEvent(
      {0, absl::ToUnixMillis(clock_->Now()), "ledger.compacted", instance_id, "compactor",
       absl::StrCat("removed ", result.removed_versions, " versions older than ", keep_from),
       nlohmann::json{{"oldestKept", keep_from}}.dump()});
  SF_RETURN_IF_ERROR(store_->Commit(batch).status());
  return result;
}

absl::Status Ledger::Verify(const std::string& instance_id) {
  SF_ASSIGN_OR_RETURN(std::optional<VersionHead> head, store_->ReadHead(instance_id));
  if (!head) {
    return absl::OkStatus();
  }
  SF_ASSIGN_OR_RETURN(int64_t oldest, store_->ReadOldestVersion(instance_id));
  SF_ASSIGN_OR_RETURN(std::vector<VersionRecord> records,
                      store_->ReadVersions(instance_id, oldest, head->version));
  if (static_cast<int64_t>(records.size()) != head->version - oldest + 1) {
    return absl::DataLossError(absl::StrCat("the ledger of ", instance_id,
                                            " has gaps: ", records.size(), " versions between ",
                                            oldest, " and ", head->version));
  }
  nlohmann::json document;
  for (const VersionRecord& r : records) {
    if (r.checkpoint) {
      SF_ASSIGN_OR_RETURN(document, DecodePayload(r.payload));
    } else if (r.version == oldest) {
      return absl::DataLossError(
          absl::StrCat("the oldest version of ", instance_id, " is not a checkpoint"));
    } else {
      SF_ASSIGN_OR_RETURN(nlohmann::json patch, DecodePayload(r.payload));
      SF_ASSIGN_OR_RETURN(document, ApplyStoredDelta(document, patch, r));
    }
    if (Sha256(document.dump()) != r.digest) {
      return absl::DataLossError(absl::StrCat("version ", r.version, " of ", instance_id,
                                              " does not rebuild to its digest"));
    }
  }
  return absl::OkStatus();
}

}  // namespace shadowfleet

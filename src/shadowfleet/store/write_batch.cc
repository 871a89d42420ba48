#include <nlohmann/json.hpp>

#include "shadowfleet/store/store.h"

namespace shadowfleet {

std::string VersionHead::Encode() const {
  return nlohmann::json{
      {"version", version}, {"createdAt", created_at_ms}, {"latestTested", latest_tested}}
      .dump();
}

std::optional<VersionHead> VersionHead::Decode(const std::string& instance_id,
                                               const std::string& value) {
  nlohmann::json j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("version") || !j["version"].is_number_integer()) {
    return std::nullopt;
  }
  VersionHead head;
  head.instance_id = instance_id;
  head.version = j["version"].get<int64_t>();
  head.created_at_ms = j.value("createdAt", int64_t{0});
  head.latest_tested = j.value("latestTested", int64_t{0});
  return head;
}

void WriteBatch::Put(std::string kind, std::string name, std::string value,
                     int64_t expected_revision) {
  Op op{OpType::kPut};
  op.kind = std::move(kind);
  op.name = std::move(name);
  op.value = std::move(value);
  op.expected_revision = expected_revision;
  ops_.push_back(std::move(op));
}

void WriteBatch::Delete(std::string kind, std::string name, int64_t expected_revision) {
  Op op{OpType::kDelete};
  op.kind = std::move(kind);
  op.name = std::move(name);
  op.expected_revision = expected_revision;
  ops_.push_back(std::move(op));
}

void WriteBatch::AppendVersion(VersionRecord record) {
  Op op{OpType::kAppendVersion};
  op.version = std::move(record);
  ops_.push_back(std::move(op));
}

void WriteBatch::RewriteVersion(VersionRecord record) {
  Op op{OpType::kRewriteVersion};
  op.version = std::move(record);
  ops_.push_back(std::move(op));
}

void WriteBatch::MarkTested(std::string instance_id, int64_t version, int64_t tested_at_ms) {
  Op op{OpType::kMarkTested};
  op.version.instance_id = std::move(instance_id);
  op.version.version = version;
  op.version.tested_at_ms = tested_at_ms;
  ops_.push_back(std::move(op));
}

void WriteBatch::DeleteVersionsBefore(std::string instance_id, int64_t version) {
  Op op{OpType::kDeleteVersionsBefore};
  op.version.instance_id = std::move(instance_id);
  op.version.version = version;
  ops_.push_back(std::move(op));
}

void WriteBatch::AppendEvent(EventRecord event) {
  Op op{OpType::kAppendEvent};
  op.event = std::move(event);
  ops_.push_back(std::move(op));
}

void WriteBatch::PutChunk(ChunkRecord chunk) {
  Op op{OpType::kPutChunk};
  op.chunk = std::move(chunk);
  ops_.push_back(std::move(op));
}

void WriteBatch::DeleteChunksBefore(int64_t end_ms) {
  Op op{OpType::kDeleteChunksBefore};
  op.chunk.end_ms = end_ms;
  ops_.push_back(std::move(op));
}

}  // namespace shadowfleet

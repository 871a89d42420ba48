#include "shadowfleet/telemetry/series_history.h"

namespace shadowfleet {

std::optional<std::string> SeriesHistory::Append(int64_t timestamp_ms, double value) {
  open_.Append(timestamp_ms, value);
  if (open_.count() < block_samples_) {
    return std::nullopt;
  }
  std::string block = open_.Serialize();
  closed_.push_back({block, open_.count()});
  closed_samples_ += open_.count();
  open_ = GorillaEncoder();
  while (!closed_.empty() && closed_samples_ > max_samples_) {
    closed_samples_ -= closed_.front().samples;
    closed_.pop_front();
  }
  return block;
}

std::vector<TimedValue> SeriesHistory::Read() const {
  std::vector<TimedValue> out;
  out.reserve(samples());
  for (const Block& block : closed_) {
    DecodeGorilla(block.data, &out);
  }
  if (open_.count() > 0) {
    DecodeGorilla(open_.Serialize(), &out);
  }
  return out;
}

std::string SeriesHistory::OpenBlock() const {
  return open_.count() > 0 ? open_.Serialize() : std::string();
}

size_t SeriesHistory::bytes() const {
  size_t total = open_.size_bytes();
  for (const Block& block : closed_) {
    total += block.data.size();
  }
  return total;
}

}  // namespace shadowfleet

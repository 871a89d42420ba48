// The recent history of one time series in memory: Gorilla-compressed blocks of up to
// `block_samples` samples; the oldest closed block is dropped once closed blocks hold more than
// `max_samples`, so a series holds at most max_samples + block_samples samples.
//
// Not thread-safe; the owning instance's lock guards it.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "shadowfleet/telemetry/gorilla.h"

namespace shadowfleet {

class SeriesHistory {
 public:
  explicit SeriesHistory(size_t max_samples = 720, size_t block_samples = 120)
      : max_samples_(max_samples), block_samples_(block_samples) {}

  // Appends a sample (timestamps must increase). When this closes a block, returns the closed
  // block (serialised) so that the caller can persist it.
  std::optional<std::string> Append(int64_t timestamp_ms, double value);

  // Every sample held, oldest first.
  std::vector<TimedValue> Read() const;
  // The open block, serialised (for persisting on shutdown). Empty if it holds nothing.
  std::string OpenBlock() const;

  size_t samples() const { return closed_samples_ + open_.count(); }
  size_t bytes() const;

 private:
  struct Block {
    std::string data;
    size_t samples = 0;
  };
  size_t max_samples_;
  size_t block_samples_;
  std::deque<Block> closed_;
  size_t closed_samples_ = 0;
  GorillaEncoder open_;
};

}  // namespace shadowfleet

// Gorilla compression of a time series (Pelkonen et al., "Gorilla: A Fast, Scalable,
// In-Memory Time Series Database", VLDB 2015): timestamps as delta-of-deltas in variable-width
// buckets, values XORed with their predecessor with the leading/trailing zero window reused
// when it fits. Regular scrapes of slowly changing values cost one to two bytes a sample.
//
// Not thread-safe; the owner serialises access.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace shadowfleet {

class BitWriter {
 public:
  void Write(uint64_t bits, int count);  // The low `count` bits, most significant first.
  void WriteBit(bool bit) { Write(bit ? 1 : 0, 1); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  size_t bit_count() const { return bit_count_; }

 private:
  std::vector<uint8_t> bytes_;
  size_t bit_count_ = 0;
};

class BitReader {
 public:
  BitReader(const uint8_t* data, size_t bit_count) : data_(data), bit_count_(bit_count) {}
  // False when fewer than `count` bits are left.
  bool Read(int count, uint64_t* out);
  bool ReadBit(bool* out);

 private:
  const uint8_t* data_;
  size_t bit_count_;
  size_t position_ = 0;
};

// Appends samples to one compressed block. Timestamps must not decrease (the caller rejects
// out-of-order samples before they get here).
class GorillaEncoder {
 public:
  void Append(int64_t timestamp_ms, double value);

  size_t count() const { return count_; }
  size_t size_bytes() const { return (writer_.bit_count() + 7) / 8; }
  int64_t first_timestamp() const { return first_timestamp_; }
  int64_t last_timestamp() const { return previous_timestamp_; }
  double last_value() const;
  // The block: a 4-byte sample count, a 4-byte bit count, then the bits.
  std::string Serialize() const;

 private:
  BitWriter writer_;
  size_t count_ = 0;
  int64_t first_timestamp_ = 0;
  int64_t previous_timestamp_ = 0;
  int64_t previous_delta_ = 0;
  uint64_t previous_bits_ = 0;
  int previous_leading_ = -1;  // -1: no window yet.
  int previous_trailing_ = 0;
};

struct TimedValue {
  int64_t timestamp_ms;
  double value;
};

// Decodes a block written by GorillaEncoder::Serialize(). Returns false on a malformed block.
bool DecodeGorilla(const std::string& block, std::vector<TimedValue>* out);

}  // namespace shadowfleet

#include "shadowfleet/telemetry/gorilla.h"

#include <bit>
#include <cstring>

namespace shadowfleet {
namespace {

uint64_t Bits(double value) {
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

double FromBits(uint64_t bits) {
  double value = 0;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

// Sign-extends the low `width` bits of `raw`.
int64_t SignExtend(uint64_t raw, int width) {
  uint64_t sign = uint64_t{1} << (width - 1);
  return static_cast<int64_t>((raw ^ sign) - sign);
}

}  // namespace

void BitWriter::Write(uint64_t bits, int count) {
  for (int i = count - 1; i >= 0; --i) {
    size_t byte = bit_count_ / 8;
    if (byte == bytes_.size()) {
      bytes_.push_back(0);
    }
    if ((bits >> i) & 1) {
      bytes_[byte] |= static_cast<uint8_t>(0x80 >> (bit_count_ % 8));
    }
    ++bit_count_;
  }
}

bool BitReader::Read(int count, uint64_t* out) {
  if (position_ + static_cast<size_t>(count) > bit_count_) {
    return false;
  }
  uint64_t value = 0;
  for (int i = 0; i < count; ++i) {
    uint8_t byte = data_[position_ / 8];
    value = (value << 1) | ((byte >> (7 - position_ % 8)) & 1);
    ++position_;
  }
  *out = value;
  return true;
}

bool BitReader::ReadBit(bool* out) {
  uint64_t bit = 0;
  if (!Read(1, &bit)) {
    return false;
  }
  *out = bit != 0;
  return true;
}

void GorillaEncoder::Append(int64_t timestamp_ms, double value) {
  uint64_t bits = Bits(value);
  if (count_ == 0) {
    writer_.Write(static_cast<uint64_t>(timestamp_ms), 64);
    writer_.Write(bits, 64);
    first_timestamp_ = timestamp_ms;
    previous_timestamp_ = timestamp_ms;
    previous_bits_ = bits;
    ++count_;
    return;
  }

  // Timestamp: delta of deltas, in buckets sized for regular scrape intervals.
  int64_t delta = timestamp_ms - previous_timestamp_;
  int64_t dod = delta - previous_delta_;
  if (dod == 0) {
    writer_.WriteBit(false);
  } else if (dod >= -64 && dod <= 63) {
    writer_.Write(0b10, 2);
    writer_.Write(static_cast<uint64_t>(dod), 7);
  } else if (dod >= -256 && dod <= 255) {
    writer_.Write(0b110, 3);
    writer_.Write(static_cast<uint64_t>(dod), 9);
  } else if (dod >= -2048 && dod <= 2047) {
    writer_.Write(0b1110, 4);
    writer_.Write(static_cast<uint64_t>(dod), 12);
  } else {
    writer_.Write(0b1111, 4);
    writer_.Write(static_cast<uint64_t>(dod), 64);
  }
  previous_delta_ = delta;
  previous_timestamp_ = timestamp_ms;

  // Value: XOR with the previous value; reuse the previous significant-bit window if the new
  // XOR fits in it.
  uint64_t x = bits ^ previous_bits_;
  previous_bits_ = bits;
  if (x == 0) {
    writer_.WriteBit(false);
  } else {
    writer_.WriteBit(true);
    int leading = std::min(std::countl_zero(x), 31);
    int trailing = std::countr_zero(x);
    if (previous_leading_ >= 0 && leading >= previous_leading_ && trailing >= previous_trailing_) {
      writer_.WriteBit(false);
      int width = 64 - previous_leading_ - previous_trailing_;
      writer_.Write(x >> previous_trailing_, width);
    } else {
      writer_.WriteBit(true);
      int width = 64 - leading - trailing;
      writer_.Write(static_cast<uint64_t>(leading), 5);
      writer_.Write(static_cast<uint64_t>(width - 1), 6);  // 1..64 stored as 0..63.
      writer_.Write(x >> trailing, width);
      previous_leading_ = leading;
      previous_trailing_ = trailing;
    }
  }
  ++count_;
}

double GorillaEncoder::last_value() const {
  return FromBits(previous_bits_);
}

std::string GorillaEncoder::Serialize() const {
  std::string out(8, '\0');
  uint32_t count = static_cast<uint32_t>(count_);
  uint32_t bits = static_cast<uint32_t>(writer_.bit_count());
  std::memcpy(out.data(), &count, 4);
  std::memcpy(out.data() + 4, &bits, 4);
  out.append(reinterpret_cast<const char*>(writer_.bytes().data()), writer_.bytes().size());
  return out;
}

bool DecodeGorilla(const std::string& block, std::vector<TimedValue>* out) {
  if (block.size() < 8) {
    return false;
  }
  uint32_t count = 0;
  uint32_t bit_count = 0;
  std::memcpy(&count, block.data(), 4);
  std::memcpy(&bit_count, block.data() + 4, 4);
  if ((bit_count + 7) / 8 > block.size() - 8) {
    return false;
  }
  BitReader reader(reinterpret_cast<const uint8_t*>(block.data() + 8), bit_count);
  int64_t timestamp = 0;
  int64_t delta = 0;
  uint64_t bits = 0;
  int leading = 0;
  int trailing = 0;
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t raw = 0;
    if (i == 0) {
      if (!reader.Read(64, &raw) || !reader.Read(64, &bits)) {
        return false;
      }
      timestamp = static_cast<int64_t>(raw);
      out->push_back({timestamp, FromBits(bits)});
      continue;
    }
    // Timestamp bucket: count the leading ones (at most four).
    int ones = 0;
    bool bit = true;
    while (ones < 4) {
      if (!reader.ReadBit(&bit)) {
        return false;
      }
      if (!bit) {
        break;
      }
      ++ones;
    }
    static constexpr int kWidths[] = {0, 7, 9, 12, 64};
    int64_t dod = 0;
    if (ones > 0) {
      if (!reader.Read(kWidths[ones], &raw)) {
        return false;
      }
      dod = ones == 4 ? static_cast<int64_t>(raw) : SignExtend(raw, kWidths[ones]);
    }
    delta += dod;
    timestamp += delta;

    bool changed = false;
    if (!reader.ReadBit(&changed)) {
      return false;
    }
    if (changed) {
      bool new_window = false;
      if (!reader.ReadBit(&new_window)) {
        return false;
      }
      if (new_window) {
        uint64_t l = 0, w = 0;
        if (!reader.Read(5, &l) || !reader.Read(6, &w)) {
          return false;
        }
        leading = static_cast<int>(l);
        trailing = 64 - leading - static_cast<int>(w + 1);
        if (trailing < 0) {
          return false;
        }
      }
      int width = 64 - leading - trailing;
      if (!reader.Read(width, &raw)) {
        return false;
      }
      bits ^= raw << trailing;
    }
    out->push_back({timestamp, FromBits(bits)});
  }
  return true;
}

}  // namespace shadowfleet

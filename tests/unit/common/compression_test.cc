// Payload compression: what Compress() writes, Decompress() gives back byte for byte, and
// bytes that are not a complete zlib stream are DATA_LOSS, never a crash.
#include "shadowfleet/common/compression.h"

#include <gtest/gtest.h>

#include <random>

namespace shadowfleet {
namespace {

std::string RandomBytes(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (char& c : out) {
    c = static_cast<char>(rng() & 0xff);
  }
  return out;
}

std::string SampleDocument() {
  std::string text;
  for (int i = 0; i < 200; ++i) {
    text += "{\"package\":\"openssl\",\"version\":\"3.0." + std::to_string(i) + "\"}\n";
  }
  return text;
}

TEST(Compression, RoundTripsTextBinaryAndEmptyInput) {
  for (const std::string& input :
       {std::string(), std::string("x"), SampleDocument(), std::string("a\0b\0\0c", 6),
        RandomBytes(100'000, 1), std::string(3'000'000, 'z')}) {
    absl::StatusOr<std::string> back = Decompress(Compress(input));
    ASSERT_TRUE(back.ok()) << back.status() << " for input of " << input.size() << " bytes";
    EXPECT_EQ(*back, input);
  }
}

TEST(Compression, ShrinksRepetitiveText) {
  std::string text = SampleDocument();
  EXPECT_LT(Compress(text).size(), text.size() / 4);
}

TEST(Compression, EveryTruncationIsDataLoss) {
  std::string compressed = Compress(SampleDocument());
  for (size_t length = 0; length < compressed.size(); ++length) {
    absl::StatusOr<std::string> result = Decompress(compressed.substr(0, length));
    ASSERT_FALSE(result.ok()) << "prefix of " << length << " bytes decoded";
    EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss) << result.status();
  }
}

TEST(Compression, EveryFlippedByteIsDataLoss) {
  std::string compressed = Compress(SampleDocument());
  for (size_t i = 0; i < compressed.size(); ++i) {
    std::string corrupt = compressed;
    corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
    absl::StatusOr<std::string> result = Decompress(corrupt);
    ASSERT_FALSE(result.ok()) << "flipped byte " << i << " went unnoticed";
    EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss) << result.status();
  }
}

TEST(Compression, RandomBytesAreDataLoss) {
  for (uint32_t seed = 0; seed < 200; ++seed) {
    absl::StatusOr<std::string> result = Decompress(RandomBytes(1 + seed * 7, seed));
    ASSERT_FALSE(result.ok()) << "seed " << seed;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss);
  }
}

}  // namespace
}  // namespace shadowfleet

// Content digests: SHA-256 as published test vectors define it, and lower-case hex.
#include "shadowfleet/common/digest.h"

#include <gtest/gtest.h>

namespace shadowfleet {
namespace {

TEST(Digest, Sha256MatchesTheStandardTestVectors) {
  EXPECT_EQ(HexEncode(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(HexEncode(Sha256(std::string(1'000'000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Digest, Sha256IsThirtyTwoRawBytesAndCoversEmbeddedNuls) {
  EXPECT_EQ(Sha256("anything").size(), 32u);
  EXPECT_NE(Sha256(std::string("a\0b", 3)), Sha256(std::string("a\0c", 3)));
  EXPECT_NE(Sha256(std::string("a\0b", 3)), Sha256("a"));
}

TEST(Digest, HexEncodesEveryByteAsTwoLowerCaseDigits) {
  EXPECT_EQ(HexEncode(""), "");
  EXPECT_EQ(HexEncode(std::string("\x00\x01\x0a\x7f\x80\xab\xff", 7)), "00010a7f80abff");
  std::string all;
  for (int b = 0; b < 256; ++b) {
    all.push_back(static_cast<char>(b));
  }
  std::string hex = HexEncode(all);
  ASSERT_EQ(hex.size(), 512u);
  EXPECT_EQ(hex.substr(0, 6), "000102");
  EXPECT_EQ(hex.substr(506), "fdfeff");
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos);
}

}  // namespace
}  // namespace shadowfleet

#include "shadowfleet/prediction/debian_version.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace shadowfleet {
namespace {

// The weight of one character of a non-digit run; 0 stands for the end of the run (or a
// digit, which ends it).
int Order(char c) {
  if (absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '\0') {
    return 0;
  }
  if (absl::ascii_isalpha(static_cast<unsigned char>(c))) {
    return static_cast<unsigned char>(c);
  }
  if (c == '~') {
    return -1;
  }
  return static_cast<unsigned char>(c) + 256;
}

// Compares an upstream version or a revision: non-digit runs, then digit runs, alternately.
int ComparePart(absl::string_view a, absl::string_view b) {
  size_t i = 0, j = 0;
  auto at = [](absl::string_view s, size_t k) { return k < s.size() ? s[k] : '\0'; };
  auto digit = [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); };
  while (i < a.size() || j < b.size()) {
    while ((i < a.size() && !digit(a[i])) || (j < b.size() && !digit(b[j]))) {
      int ac = Order(at(a, i));
      int bc = Order(at(b, j));
      if (ac != bc) {
        return ac - bc;
      }
      ++i;
      ++j;
    }
    while (at(a, i) == '0') {
      ++i;
    }
    while (at(b, j) == '0') {
      ++j;
    }
    int first_difference = 0;
    while (digit(at(a, i)) && digit(at(b, j))) {
      if (first_difference == 0) {
        first_difference = at(a, i) - at(b, j);
      }
      ++i;
      ++j;
    }
    if (digit(at(a, i))) {
      return 1;  // a's number has more digits.
    }
    if (digit(at(b, j))) {
      return -1;
    }
    if (first_difference != 0) {
      return first_difference;
    }
  }
  return 0;
}

DebianVersion Split(absl::string_view text) {
  DebianVersion v;
  size_t colon = text.find(':');
  if (colon != absl::string_view::npos) {
    int64_t epoch = 0;
    if (absl::SimpleAtoi(text.substr(0, colon), &epoch)) {
      v.epoch = epoch;
    }
    text = text.substr(colon + 1);
  }
  size_t dash = text.rfind('-');
  if (dash != absl::string_view::npos) {
    v.revision = std::string(text.substr(dash + 1));
    text = text.substr(0, dash);
  }
  v.upstream = std::string(text);
  return v;
}

}  // namespace

absl::StatusOr<DebianVersion> ParseDebianVersion(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  size_t colon = text.find(':');
  if (colon != absl::string_view::npos) {
    int64_t epoch = 0;
    if (!absl::SimpleAtoi(text.substr(0, colon), &epoch) || epoch < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("version \"", text, "\": the epoch before ':' is not a number"));
    }
  }
  for (char c : text) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '+' && c != '-' &&
        c != '~' && c != ':') {
      return absl::InvalidArgumentError(absl::StrCat("version \"", text, "\": character '",
                                                     std::string(1, c), "' is not allowed"));
    }
  }
  DebianVersion v = Split(text);
  if (v.upstream.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("version \"", text, "\": no upstream version"));
  }
  return v;
}

int CompareDebianVersions(absl::string_view a, absl::string_view b) {
  DebianVersion va = Split(absl::StripAsciiWhitespace(a));
  DebianVersion vb = Split(absl::StripAsciiWhitespace(b));
  if (va.epoch != vb.epoch) {
    return va.epoch < vb.epoch ? -1 : 1;
  }
  if (int c = ComparePart(va.upstream, vb.upstream); c != 0) {
    return c;
  }
  return ComparePart(va.revision, vb.revision);
}

}  // namespace shadowfleet

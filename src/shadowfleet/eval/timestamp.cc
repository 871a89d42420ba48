#include "shadowfleet/eval/timestamp.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace shadowfleet {
namespace {

// A cursor over the text with the small steps a date-time needs.
class Cursor {
 public:
  explicit Cursor(absl::string_view text) : text_(text) {}

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  bool Take(char c) {
    if (Peek() != c) {
      return false;
    }
    ++pos_;
    return true;
  }
  // Exactly `digits` decimal digits.
  bool Number(int digits, int& out) {
    out = 0;
    for (int i = 0; i < digits; ++i) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(Peek()))) {
        return false;
      }
      out = out * 10 + (text_[pos_++] - '0');
    }
    return true;
  }
  // One or more digits, as the fraction they make after a decimal point.
  bool Fraction(double& out) {
    size_t start = pos_;
    while (absl::ascii_isdigit(static_cast<unsigned char>(Peek()))) {
      ++pos_;
    }
    return pos_ > start &&
           absl::SimpleAtod(absl::StrCat("0.", text_.substr(start, pos_ - start)), &out);
  }

 private:
  absl::string_view text_;
  size_t pos_ = 0;
};

absl::Status Invalid(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("timestamp \"", text, "\" ", why));
}

// "YYYY-MM-DD[( |T)hh:mm[:ss[.fff]]][Z|(+|-)hh[:]mm]".
absl::StatusOr<double> ParseCalendar(absl::string_view text) {
  Cursor c(text);
  int year, month, day, hour = 0, minute = 0, second = 0;
  double fraction = 0.0;
  if (!c.Number(4, year) || !c.Take('-') || !c.Number(2, month) || !c.Take('-') ||
      !c.Number(2, day)) {
    return Invalid(text, "does not start with a date YYYY-MM-DD");
  }
  if (c.Take(' ') || c.Take('T')) {
    if (!c.Number(2, hour) || !c.Take(':') || !c.Number(2, minute)) {
      return Invalid(text, "has no time hh:mm[:ss] after the date");
    }
    if (c.Take(':') && !c.Number(2, second)) {
      return Invalid(text, "has malformed seconds");
    }
    if ((c.Take('.') || c.Take(',')) && !c.Fraction(fraction)) {
      return Invalid(text, "has malformed fractional seconds");
    }
  }
  int offset_seconds = 0;
  if (c.Peek() == '+' || c.Peek() == '-') {
    int sign = c.Peek() == '+' ? 1 : -1;
    c.Take(c.Peek());
    int zone_hours, zone_minutes;
    if (!c.Number(2, zone_hours) || (c.Take(':'), !c.Number(2, zone_minutes)) || zone_hours > 23 ||
        zone_minutes > 59) {
      return Invalid(text, "has a malformed UTC offset (expected +hh:mm)");
    }
    offset_seconds = sign * (zone_hours * 3600 + zone_minutes * 60);
  } else {
    c.Take('Z');
  }
  if (!c.AtEnd()) {
    return Invalid(text, "has unexpected text after the date and time");
  }

  absl::CivilSecond civil(year, month, day, hour, minute, second);
  if (civil.year() != year || civil.month() != month || civil.day() != day ||
      civil.hour() != hour || civil.minute() != minute || civil.second() != second) {
    return Invalid(text, "is not a valid calendar date and time");
  }
  int64_t seconds = absl::ToUnixSeconds(absl::FromCivil(civil, absl::UTCTimeZone()));
  return static_cast<double>(seconds - offset_seconds) + fraction;
}

}  // namespace

absl::StatusOr<double> ParseTimestamp(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (text.empty()) {
    return absl::InvalidArgumentError("empty timestamp");
  }
  if (text.size() >= 5 && text[4] == '-') {
    return ParseCalendar(text);
  }
  double seconds;
  if (absl::SimpleAtod(text, &seconds) && std::isfinite(seconds)) {
    return seconds;
  }
  return Invalid(text,
                 "is neither a date and time (YYYY-MM-DD hh:mm:ss, ISO 8601) nor unix seconds");
}

}  // namespace shadowfleet

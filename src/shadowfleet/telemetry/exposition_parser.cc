#include "shadowfleet/telemetry/exposition_parser.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace shadowfleet {
namespace {

bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

bool IsNameChar(char c) {
  return IsNameStart(c) || (c >= '0' && c <= '9');
}

void SkipBlanks(std::string_view s, size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) {
    ++i;
  }
}

std::string_view ReadName(std::string_view s, size_t& i) {
  size_t start = i;
  if (i < s.size() && IsNameStart(s[i])) {
    ++i;
    while (i < s.size() && IsNameChar(s[i])) {
      ++i;
    }
  }
  return s.substr(start, i - start);
}

// Values: Go's ParseFloat syntax plus the format's NaN, +Inf and -Inf.
bool ParseValue(std::string_view token, double* out) {
  if (token == "NaN") {
    *out = std::nan("");
    return true;
  }
  if (token == "+Inf" || token == "Inf") {
    *out = HUGE_VAL;
    return true;
  }
  if (token == "-Inf") {
    *out = -HUGE_VAL;
    return true;
  }
  if (!token.empty() && token[0] == '+') {
    token.remove_prefix(1);
  }
  auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), *out);
  return error == std::errc() && end == token.data() + token.size();
}

}  // namespace

std::string UnescapeLabelValue(std::string_view escaped) {
  std::string out;
  out.reserve(escaped.size());
  for (size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] == '\\' && i + 1 < escaped.size()) {
      char next = escaped[++i];
      out.push_back(next == 'n' ? '\n' : next);
    } else {
      out.push_back(escaped[i]);
    }
  }
  return out;
}

int ExpositionParser::Parse(std::string_view text, const SampleFn& on_sample,
                            const ProblemFn& on_problem) {
  types_.clear();
  int samples = 0;
  int line_number = 0;
  size_t pos = 0;
  std::string reason;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    size_t first = 0;
    SkipBlanks(line, first);
    if (first == line.size()) {
      continue;
    }
    if (line[first] == '#') {
      ParseComment(line.substr(first));
      continue;
    }
    if (ParseSampleLine(line.substr(first), on_sample, &reason)) {
      ++samples;
    } else {
      on_problem({line_number, reason});
    }
  }
  return samples;
}

void ExpositionParser::ParseComment(std::string_view line) {
  // "# TYPE name type"; HELP and other comments carry nothing the engine uses.
  constexpr std::string_view kType = "# TYPE ";
  if (line.substr(0, kType.size()) != kType) {
    return;
  }
  size_t i = kType.size();
  SkipBlanks(line, i);
  std::string_view name = ReadName(line, i);
  SkipBlanks(line, i);
  std::string_view type = line.substr(i);
  MetricType t = MetricType::kUntyped;
  if (type.substr(0, 7) == "counter") {
    t = MetricType::kCounter;
  } else if (type.substr(0, 5) == "gauge") {
    t = MetricType::kGauge;
  } else if (type.substr(0, 9) == "histogram") {
    t = MetricType::kHistogram;
  } else if (type.substr(0, 7) == "summary") {
    t = MetricType::kSummary;
  }
  if (!name.empty()) {
    types_.emplace_back(std::string(name), t);
  }
}

MetricType ExpositionParser::TypeOf(std::string_view family) const {
  for (const auto& [name, type] : types_) {
    if (name == family) {
      return type;
    }
  }
  return MetricType::kUntyped;
}

bool ExpositionParser::ParseSampleLine(std::string_view line, const SampleFn& on_sample,
                                       std::string* reason) {
  size_t i = 0;
  std::string_view name = ReadName(line, i);
  if (name.empty()) {
    *reason = "expected a metric name";
    return false;
  }
  labels_.clear();
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (true) {
      SkipBlanks(line, i);
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      std::string_view label = ReadName(line, i);
      if (label.empty()) {
        *reason = "expected a label name";
        return false;
      }
      SkipBlanks(line, i);
      if (i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') {
        *reason = "expected =\"value\" after label " + std::string(label);
        return false;
      }
      i += 2;
      size_t start = i;
      while (i < line.size() && line[i] != '"') {
        i += line[i] == '\\' ? 2 : 1;
      }
      if (i >= line.size()) {
        *reason = "unterminated label value";
        return false;
      }
      labels_.push_back({label, line.substr(start, i - start)});
      ++i;
      SkipBlanks(line, i);
      if (i < line.size() && line[i] == ',') {
        ++i;
        continue;
      }
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      *reason = "expected , or } in the label set";
      return false;
    }
  }
  if (i >= line.size() || (line[i] != ' ' && line[i] != '\t')) {
    *reason = "expected a space before the value";
    return false;
  }
  SkipBlanks(line, i);
  size_t value_start = i;
  while (i < line.size() && line[i] != ' ' && line[i] != '\t') {
    ++i;
  }
  double value = 0;
  if (!ParseValue(line.substr(value_start, i - value_start), &value)) {
    *reason =
        "value \"" + std::string(line.substr(value_start, i - value_start)) + "\" is not a number";
    return false;
  }
  SkipBlanks(line, i);
  std::optional<int64_t> timestamp;
  if (i < line.size()) {
    int64_t ts = 0;
    std::string_view token = line.substr(i);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) {
      token.remove_suffix(1);
    }
    auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), ts);
    if (error != std::errc() || end != token.data() + token.size()) {
      *reason = "timestamp \"" + std::string(token) + "\" is not an integer";
      return false;
    }
    timestamp = ts;
  }
  if (labels_.size() > 1) {
    std::sort(labels_.begin(), labels_.end(),
              [](const LabelView& a, const LabelView& b) { return a.name < b.name; });
  }
  on_sample({name, &labels_, value, timestamp});
  return true;
}

}  // namespace shadowfleet

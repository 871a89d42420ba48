#include "shadowfleet/spec/yaml_decoder.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace shadowfleet {
namespace {

bool IsPlainScalar(const YAML::Node& node) {
  return node.IsScalar() && node.Tag() == "?";
}

// The core schema's hexadecimal ("0x1F") and octal ("0o17") integers.
bool ParsePrefixedInteger(const std::string& text, int64_t* out) {
  if (text.size() < 3 || text[0] != '0' || (text[1] != 'x' && text[1] != 'o') || text[2] == '-') {
    return false;
  }
  int base = text[1] == 'x' ? 16 : 8;
  const char* end = text.data() + text.size();
  auto [ptr, error] = std::from_chars(text.data() + 2, end, *out, base);
  return error == std::errc() && ptr == end;
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      return "\"" + node.Scalar() + "\"";
    default:
      return "nothing";
  }
}

}  // namespace

std::string SpecError::ToString() const {
  std::string where = file.empty() ? "<input>" : file;
  if (line > 0) {
    absl::StrAppend(&where, ":", line, ":", column);
  }
  return path.empty() ? absl::StrCat(where, ": ", message)
                      : absl::StrCat(where, ": ", path, ": ", message);
}

nlohmann::json SpecError::ToJson() const {
  return {{"file", file}, {"line", line}, {"column", column}, {"path", path}, {"message", message}};
}

absl::Status YamlDecoder::ToStatus() const {
  if (errors_.empty()) {
    return absl::OkStatus();
  }
  std::vector<std::string> lines;
  lines.reserve(errors_.size());
  for (const SpecError& error : errors_) {
    lines.push_back(error.ToString());
  }
  return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
}

void YamlDecoder::Fail(const YAML::Node& at, std::string_view path, std::string message) {
  YAML::Mark mark = at.IsDefined() ? at.Mark() : YAML::Mark::null_mark();
  if (mark.is_null()) {
    FailAt(0, 0, path, std::move(message));
  } else {
    FailAt(mark.line + 1, mark.column + 1, path, std::move(message));
  }
}

void YamlDecoder::FailAt(int line, int column, std::string_view path, std::string message) {
  errors_.push_back({file_, line, column, std::string(path), std::move(message)});
}

bool YamlDecoder::ExpectMap(const YAML::Node& node, std::string_view path) {
  if (node.IsMap()) {
    return true;
  }
  Fail(node, path, "expected a mapping, got " + Describe(node));
  return false;
}

bool YamlDecoder::ExpectSequence(const YAML::Node& node, std::string_view path) {
  if (node.IsSequence()) {
    return true;
  }
  Fail(node, path, "expected a list, got " + Describe(node));
  return false;
}

void YamlDecoder::RejectUnknownKeys(const YAML::Node& map, std::string_view path,
                                    std::initializer_list<std::string_view> allowed) {
  std::set<std::string> seen;
  for (const auto& entry : map) {
    if (!entry.first.IsScalar()) {
      Fail(entry.first, path, "keys must be plain strings");
      continue;
    }
    const std::string& key = entry.first.Scalar();
    if (!seen.insert(key).second) {
      Fail(entry.first, Join(path, key), "duplicate key");
      continue;
    }
    bool known = false;
    for (std::string_view a : allowed) {
      known = known || a == key;
    }
    if (!known) {
      Fail(entry.first, Join(path, key),
           "unknown field (allowed here: " +
               absl::StrJoin(std::vector<std::string>(allowed.begin(), allowed.end()), ", ") + ")");
    }
  }
}

bool YamlDecoder::String(const YAML::Node& map, std::string_view key, std::string_view path,
                         std::string* out, bool required) {
  YAML::Node node = map[std::string(key)];
  if (!node.IsDefined() || node.IsNull()) {
    if (required) {
      Fail(map, Join(path, key), "required field is missing");
    }
    return false;
  }
  if (!node.IsScalar()) {
    Fail(node, Join(path, key), "expected a string, got " + Describe(node));
    return false;
  }
  *out = node.Scalar();
  return true;
}

bool YamlDecoder::Int(const YAML::Node& map, std::string_view key, std::string_view path, int* out,
                      int min, int max, bool required) {
  std::string text;
  if (!String(map, key, path, &text, required)) {
    return false;
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    Fail(map[std::string(key)], Join(path, key), "expected an integer, got \"" + text + "\"");
    return false;
  }
  if (value < min || value > max) {
    Fail(map[std::string(key)], Join(path, key),
         absl::StrCat("must be between ", min, " and ", max, ", got ", value));
    return false;
  }
  *out = static_cast<int>(value);
  return true;
}

bool YamlDecoder::Double(const YAML::Node& map, std::string_view key, std::string_view path,
                         double* out, double min, double max) {
  std::string text;
  if (!String(map, key, path, &text)) {
    return false;
  }
  double value = 0;
  if (!absl::SimpleAtod(text, &value) || !std::isfinite(value)) {
    Fail(map[std::string(key)], Join(path, key), "expected a number, got \"" + text + "\"");
    return false;
  }
  if (value < min || value > max) {
    Fail(map[std::string(key)], Join(path, key),
         absl::StrCat("must be between ", min, " and ", max, ", got ", value));
    return false;
  }
  *out = value;
  return true;
}

bool YamlDecoder::Uint64(const YAML::Node& map, std::string_view key, std::string_view path,
                         uint64_t* out) {
  std::string text;
  if (!String(map, key, path, &text)) {
    return false;
  }
  if (!absl::SimpleAtoi(text, out)) {
    Fail(map[std::string(key)], Join(path, key),
         "expected a non-negative integer, got \"" + text + "\"");
    return false;
  }
  return true;
}

bool YamlDecoder::Bool(const YAML::Node& map, std::string_view key, std::string_view path,
                       bool* out) {
  std::string text;
  if (!String(map, key, path, &text)) {
    return false;
  }
  if (text == "true") {
    *out = true;
  } else if (text == "false") {
    *out = false;
  } else {
    Fail(map[std::string(key)], Join(path, key), "expected true or false, got \"" + text + "\"");
    return false;
  }
  return true;
}

bool YamlDecoder::Duration(const YAML::Node& map, std::string_view key, std::string_view path,
                           absl::Duration* out, absl::Duration min) {
  std::string text;
  if (!String(map, key, path, &text)) {
    return false;
  }
  absl::Duration value;
  if (!absl::ParseDuration(text, &value) || value == absl::InfiniteDuration()) {
    Fail(map[std::string(key)], Join(path, key),
         "expected a duration such as 500ms, 10s, 5m or 1h, got \"" + text + "\"");
    return false;
  }
  if (value < min) {
    Fail(map[std::string(key)], Join(path, key),
         absl::StrCat("must be at least ", absl::FormatDuration(min), ", got ", text));
    return false;
  }
  *out = value;
  return true;
}

bool YamlDecoder::StringList(const YAML::Node& map, std::string_view key, std::string_view path,
                             std::vector<std::string>* out, bool required) {
  YAML::Node node = map[std::string(key)];
  std::string field = Join(path, key);
  if (!node.IsDefined() || node.IsNull()) {
    if (required) {
      Fail(map, field, "required field is missing");
    }
    return false;
  }
  if (!ExpectSequence(node, field)) {
    return false;
  }
  std::vector<std::string> values;
  bool ok = true;
  for (size_t i = 0; i < node.size(); ++i) {
    if (!node[i].IsScalar()) {
      Fail(node[i], Index(field, i), "expected a string, got " + Describe(node[i]));
      ok = false;
      continue;
    }
    values.push_back(node[i].Scalar());
  }
  if (ok) {
    *out = std::move(values);
  }
  return ok;
}

bool YamlDecoder::StringMap(const YAML::Node& map, std::string_view key, std::string_view path,
                            std::map<std::string, std::string>* out) {
  YAML::Node node = map[std::string(key)];
  std::string field = Join(path, key);
  if (!node.IsDefined() || node.IsNull()) {
    return false;
  }
  if (!ExpectMap(node, field)) {
    return false;
  }
  std::map<std::string, std::string> values;
  for (const auto& entry : node) {
    std::string name = entry.first.Scalar();
    if (!entry.second.IsScalar()) {
      Fail(entry.second, Join(field, name), "expected a string, got " + Describe(entry.second));
      continue;
    }
    if (!values.emplace(name, entry.second.Scalar()).second) {
      Fail(entry.first, Join(field, name), "duplicate key");
    }
  }
  *out = std::move(values);
  return true;
}

nlohmann::json YamlDecoder::ToJson(const YAML::Node& node, std::string_view path) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Sequence: {
      nlohmann::json array = nlohmann::json::array();
      for (size_t i = 0; i < node.size(); ++i) {
        array.push_back(ToJson(node[i], Index(path, i)));
      }
      return array;
    }
    case YAML::NodeType::Map: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          Fail(entry.first, path, "keys must be plain strings");
          continue;
        }
        const std::string& key = entry.first.Scalar();
        if (object.contains(key)) {
          Fail(entry.first, Join(path, key), "duplicate key");
          continue;
        }
        object[key] = ToJson(entry.second, Join(path, key));
      }
      return object;
    }
    case YAML::NodeType::Scalar:
      break;
  }
  const std::string& text = node.Scalar();
  if (!IsPlainScalar(node)) {
    return text;
  }
  if (text == "null" || text == "Null" || text == "NULL" || text == "~" || text.empty()) {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") {
    return true;
  }
  if (text == "false" || text == "False" || text == "FALSE") {
    return false;
  }
  int64_t integer = 0;
  if (absl::SimpleAtoi(text, &integer) || ParsePrefixedInteger(text, &integer)) {
    return integer;
  }
  double number = 0;
  bool numeric_shape = text.find_first_not_of("0123456789+-.eE") == std::string::npos;
  if (numeric_shape && absl::SimpleAtod(text, &number) && std::isfinite(number)) {
    return number;
  }
  return text;
}

std::string YamlDecoder::Join(std::string_view path, std::string_view key) {
  std::string out(path);
  if (!out.empty()) {
    out += '.';
  }
  out += key;
  return out;
}

std::string YamlDecoder::Index(std::string_view path, size_t index) {
  return std::string(path) + "[" + std::to_string(index) + "]";
}

std::vector<YAML::Node> LoadYamlDocuments(const std::string& text, YamlDecoder& decoder) {
  try {
    std::vector<YAML::Node> documents = YAML::LoadAll(text);
    std::vector<YAML::Node> non_empty;
    for (YAML::Node& document : documents) {
      if (document.IsDefined() && !document.IsNull()) {
        non_empty.push_back(document);
      }
    }
    return non_empty;
  } catch (const YAML::Exception& e) {
    decoder.FailAt(e.mark.is_null() ? 0 : e.mark.line + 1, e.mark.is_null() ? 0 : e.mark.column + 1,
                   "", "YAML syntax error: " + e.msg);
    return {};
  }
}

}  // namespace shadowfleet

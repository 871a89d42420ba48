// Strict decoding of YAML documents into typed values, collecting every problem with its
// place: file, line, column and the field path (e.g. "spec.groups[1].healthCheck.interval").
// Unknown and duplicate keys are errors, so that a misspelt field never silently falls back to
// a default.
//
// Not thread-safe; one decoder per document being read.
#pragma once

#include <functional>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

namespace shadowfleet {

struct SpecError {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown.
  int column = 0;  // 1-based; 0 when unknown.
  std::string path;
  std::string message;

  // "file:line:column: path: message"
  std::string ToString() const;
  nlohmann::json ToJson() const;
};

class YamlDecoder {
 public:
  explicit YamlDecoder(std::string file) : file_(std::move(file)) {}

  const std::string& file() const { return file_; }
  const std::vector<SpecError>& errors() const { return errors_; }
  bool ok() const { return errors_.empty(); }

  // INVALID_ARGUMENT listing every error, one per line; OK when there are none.
  absl::Status ToStatus() const;

  void Fail(const YAML::Node& at, std::string_view path, std::string message);
  void FailAt(int line, int column, std::string_view path, std::string message);

  // True if `node` is a mapping; otherwise records an error.
  bool ExpectMap(const YAML::Node& node, std::string_view path);
  bool ExpectSequence(const YAML::Node& node, std::string_view path);

  // Records an error for every key of `map` that is not in `allowed`, and for duplicates.
  void RejectUnknownKeys(const YAML::Node& map, std::string_view path,
                         std::initializer_list<std::string_view> allowed);

  // Typed readers for the child `key` of `map`. A missing key leaves `out` unchanged unless
  // `required`, in which case it is an error. Every reader returns true if it stored a value.
  bool String(const YAML::Node& map, std::string_view key, std::string_view path, std::string* out,
              bool required = false);
  bool Int(const YAML::Node& map, std::string_view key, std::string_view path, int* out, int min,
           int max, bool required = false);
  bool Double(const YAML::Node& map, std::string_view key, std::string_view path, double* out,
              double min, double max);
  bool Uint64(const YAML::Node& map, std::string_view key, std::string_view path, uint64_t* out);
  bool Bool(const YAML::Node& map, std::string_view key, std::string_view path, bool* out);
  // Go-style durations: "300ms", "5s", "1m30s", "2h".
  bool Duration(const YAML::Node& map, std::string_view key, std::string_view path,
                absl::Duration* out, absl::Duration min = absl::ZeroDuration());
  bool StringList(const YAML::Node& map, std::string_view key, std::string_view path,
                  std::vector<std::string>* out, bool required = false);
  bool StringMap(const YAML::Node& map, std::string_view key, std::string_view path,
                 std::map<std::string, std::string>* out);

  // Reads a string restricted to `choices`, storing the matching value.
  template <typename E>
  bool Enum(const YAML::Node& map, std::string_view key, std::string_view path, E* out,
            std::initializer_list<std::pair<std::string_view, E>> choices) {
    std::string text;
    if (!String(map, key, path, &text)) {
      return false;
    }
    std::string allowed;
    for (const auto& [name, value] : choices) {
      if (name == text) {
        *out = value;
        return true;
      }
      allowed += allowed.empty() ? "" : ", ";
      allowed += name;
    }
    Fail(map[std::string(key)], Join(path, key),
         "must be one of " + allowed + ", got \"" + text + "\"");
    return false;
  }

  // Converts any YAML value to JSON, inferring the types of plain scalars as YAML 1.2's core
  // schema does (null, booleans, integers, floats); quoted scalars stay strings.
  nlohmann::json ToJson(const YAML::Node& node, std::string_view path);

  static std::string Join(std::string_view path, std::string_view key);
  static std::string Index(std::string_view path, size_t index);

 private:
  std::string file_;
  std::vector<SpecError> errors_;
};

// Parses every YAML document in `text`. A syntax error is reported through `decoder` with its
// position and yields an empty result.
std::vector<YAML::Node> LoadYamlDocuments(const std::string& text, YamlDecoder& decoder);

}  // namespace shadowfleet

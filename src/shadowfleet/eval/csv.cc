#include "shadowfleet/eval/csv.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "shadowfleet/common/files.h"
#include "shadowfleet/common/status_macros.h"

namespace shadowfleet {
namespace {

// Splits one line into fields. Returns an error message (empty on success) so that the
// caller can add the file and line.
std::string SplitFields(absl::string_view line, std::vector<std::string>& fields) {
  fields.clear();
  size_t i = 0;
  while (true) {
    while (i < line.size() && line[i] == ' ') {
      ++i;
    }
    std::string field;
    if (i < line.size() && line[i] == '"') {
      size_t column = i + 1;
      for (++i;; ++i) {
        if (i >= line.size()) {
          return absl::StrCat("unterminated quoted field starting at column ", column);
        }
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            ++i;
            continue;
          }
          ++i;
          break;
        }
        field += line[i];
      }
      while (i < line.size() && line[i] == ' ') {
        ++i;
      }
      if (i < line.size() && line[i] != ',') {
        return absl::StrCat("unexpected text after the closing quote at column ", i + 1);
      }
    } else {
      size_t end = line.find(',', i);
      if (end == absl::string_view::npos) {
        end = line.size();
      }
      field = std::string(absl::StripTrailingAsciiWhitespace(line.substr(i, end - i)));
      i = end;
    }
    fields.push_back(std::move(field));
    if (i >= line.size()) {
      return "";
    }
    ++i;  // The comma.
  }
}

}  // namespace

absl::StatusOr<size_t> CsvTable::Column(absl::string_view name) const {
  for (size_t i = 0; i < header.fields.size(); ++i) {
    if (absl::EqualsIgnoreCase(header.fields[i], name)) {
      return i;
    }
  }
  return Error(header, absl::StrCat("no column \"", name, "\" in the header (columns: ",
                                    absl::StrJoin(header.fields, ", "), ")"));
}

absl::Status CsvTable::Error(const CsvRecord& record, absl::string_view message) const {
  return absl::InvalidArgumentError(absl::StrCat(path, ":", record.line, ": ", message));
}

absl::StatusOr<CsvTable> ParseCsv(std::string path, absl::string_view contents) {
  CsvTable table;
  table.path = std::move(path);
  bool have_header = false;
  int line_number = 0;
  size_t pos = 0;
  while (pos < contents.size()) {
    size_t end = contents.find('\n', pos);
    if (end == absl::string_view::npos) {
      end = contents.size();
    }
    absl::string_view line = contents.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (absl::StripAsciiWhitespace(line).empty()) {
      continue;
    }

    CsvRecord record{line_number, std::string(line), {}};
    if (std::string problem = SplitFields(line, record.fields); !problem.empty()) {
      return table.Error(record, problem);
    }
    if (!have_header) {
      table.header = std::move(record);
      have_header = true;
      continue;
    }
    if (record.fields.size() != table.header.fields.size()) {
      return table.Error(record, absl::StrCat("expected ", table.header.fields.size(), " fields (",
                                              absl::StrJoin(table.header.fields, ","), "), found ",
                                              record.fields.size()));
    }
    table.records.push_back(std::move(record));
  }
  if (!have_header) {
    return absl::InvalidArgumentError(
        absl::StrCat(table.path, ":1: empty file; expected a header row naming the columns"));
  }
  return table;
}

absl::StatusOr<CsvTable> ReadCsv(const std::string& path) {
  SF_ASSIGN_OR_RETURN(std::string contents, ReadFile(path));
  return ParseCsv(path, contents);
}

std::string CsvQuote(absl::string_view field) {
  bool plain = field.find_first_of(",\"\n\r") == absl::string_view::npos &&
               (field.empty() || (field.front() != ' ' && field.back() != ' '));
  if (plain) {
    return std::string(field);
  }
  std::string quoted = "\"";
  for (char c : field) {
    quoted += c;
    if (c == '"') {
      quoted += '"';
    }
  }
  quoted += '"';
  return quoted;
}

}  // namespace shadowfleet

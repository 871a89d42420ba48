// Reading comma-separated files with a header row, as metric exports and benchmark corpora
// come. Every error names the file and the line and says what is wrong there, because these
// files are written by hand or by other tools and the user has to find the fault.
//
// Example:
//   absl::StatusOr<CsvTable> table = ReadCsv("data/cpu.csv");
//   absl::StatusOr<size_t> value = table->Column("value");
//   for (const CsvRecord& r : table->records) Use(r.fields[*value]);
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shadowfleet {

struct CsvRecord {
  int line = 0;      // 1-based line number in the file.
  std::string text;  // The line as read, without its line ending.
  std::vector<std::string> fields;
};

// A parsed file: the header's column names and every non-blank line after it. Fields are
// separated by commas; a field may be double-quoted (with "" for a quote inside) to hold
// commas. Unquoted fields are trimmed of surrounding spaces. Blank lines are skipped; "\r\n"
// line endings are accepted.
struct CsvTable {
  std::string path;
  CsvRecord header;
  std::vector<CsvRecord> records;

  // Index of the column named `name` (case-insensitive). INVALID_ARGUMENT naming the columns
  // that are there when it is missing.
  absl::StatusOr<size_t> Column(absl::string_view name) const;

  // INVALID_ARGUMENT "path:line: message", for problems found in a record.
  absl::Status Error(const CsvRecord& record, absl::string_view message) const;
};

// Every record must have as many fields as the header. INVALID_ARGUMENT (with file and line)
// for a missing header, a wrong field count or an unterminated quote.
absl::StatusOr<CsvTable> ParseCsv(std::string path, absl::string_view contents);

// As ParseCsv, reading `path`. NOT_FOUND if the file cannot be opened.
absl::StatusOr<CsvTable> ReadCsv(const std::string& path);

// `field` quoted for CSV if it needs to be (contains a comma, a quote or surrounding spaces).
std::string CsvQuote(absl::string_view field);

}  // namespace shadowfleet

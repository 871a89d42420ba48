#include "shadowfleet/eval/series.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/eval/csv.h"
#include "shadowfleet/eval/timestamp.h"

namespace shadowfleet {
namespace {

constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

bool IsMissing(absl::string_view field) {
  return field.empty() || absl::EqualsIgnoreCase(field, "nan") ||
         absl::EqualsIgnoreCase(field, "null");
}

// A finite number, or NaN for a missing one; INVALID_ARGUMENT naming `what` otherwise.
absl::StatusOr<double> ParseNumber(absl::string_view field, absl::string_view what) {
  if (IsMissing(field)) {
    return kMissing;
  }
  double value;
  if (!absl::SimpleAtod(field, &value) || !std::isfinite(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " \"", field, "\" is not a finite number"));
  }
  return value;
}

// Prefixes a field-level error with the table's file and the record's line.
absl::Status AtRecord(const CsvTable& table, const CsvRecord& record, const absl::Status& s) {
  return table.Error(record, s.message());
}

}  // namespace

absl::StatusOr<Series> ReadSeries(const std::string& path) {
  SF_ASSIGN_OR_RETURN(CsvTable table, ReadCsv(path));
  SF_ASSIGN_OR_RETURN(size_t time_column, table.Column("timestamp"));
  SF_ASSIGN_OR_RETURN(size_t value_column, table.Column("value"));

  Series series;
  series.path = path;
  series.header = table.header.text;
  for (CsvRecord& record : table.records) {
    absl::StatusOr<double> time = ParseTimestamp(record.fields[time_column]);
    if (!time.ok()) {
      return AtRecord(table, record, time.status());
    }
    absl::StatusOr<double> value = ParseNumber(record.fields[value_column], "value");
    if (!value.ok()) {
      return AtRecord(table, record, value.status());
    }
    series.times.push_back(*time);
    series.values.push_back(*value);
    series.timestamps.push_back(std::move(record.fields[time_column]));
    series.line_numbers.push_back(record.line);
    series.lines.push_back(std::move(record.text));
  }
  return series;
}

absl::StatusOr<std::vector<double>> ReadScores(const std::string& path, const Series& series) {
  SF_ASSIGN_OR_RETURN(CsvTable table, ReadCsv(path));
  SF_ASSIGN_OR_RETURN(size_t time_column, table.Column("timestamp"));
  SF_ASSIGN_OR_RETURN(size_t score_column, table.Column("anomaly_score"));
  if (table.records.size() != series.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": has ", table.records.size(), " rows but ", series.path, " has ", series.size()));
  }

  std::vector<double> scores;
  scores.reserve(series.size());
  for (size_t i = 0; i < table.records.size(); ++i) {
    const CsvRecord& record = table.records[i];
    absl::StatusOr<double> time = ParseTimestamp(record.fields[time_column]);
    if (!time.ok()) {
      return AtRecord(table, record, time.status());
    }
    if (*time != series.times[i]) {
      return table.Error(
          record, absl::StrCat("timestamp \"", record.fields[time_column], "\" differs from row ",
                               i + 1, " of ", series.path, " (\"", series.timestamps[i], "\")"));
    }
    absl::StatusOr<double> score = ParseNumber(record.fields[score_column], "anomaly_score");
    if (!score.ok()) {
      return AtRecord(table, record, score.status());
    }
    scores.push_back(std::isnan(*score) ? 0.0 : *score);
  }
  return scores;
}

std::string ExactDecimal(double value) {
  if (std::isnan(value)) {
    return "nan";
  }
  char buffer[32];
  std::to_chars_result r = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, r.ptr);
}

std::string WriteSeriesWithColumns(const Series& series, const std::vector<ExtraColumn>& columns) {
  std::string out = series.header;
  for (const ExtraColumn& c : columns) {
    absl::StrAppend(&out, ",", CsvQuote(c.name));
  }
  out += '\n';
  for (size_t i = 0; i < series.size(); ++i) {
    out += series.lines[i];
    for (const ExtraColumn& c : columns) {
      absl::StrAppend(&out, ",", ExactDecimal((*c.values)[i]));
    }
    out += '\n';
  }
  return out;
}

}  // namespace shadowfleet

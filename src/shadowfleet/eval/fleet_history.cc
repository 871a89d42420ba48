#include "shadowfleet/eval/fleet_history.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/eval/csv.h"
#include "shadowfleet/eval/timestamp.h"

namespace shadowfleet {
namespace {

constexpr size_t kFirstMetricColumn = 2;

absl::StatusOr<absl::Time> Timestamp(const CsvTable& table, const CsvRecord& record,
                                     size_t column) {
  absl::StatusOr<double> seconds = ParseTimestamp(record.fields[column]);
  if (!seconds.ok()) {
    return table.Error(record, seconds.status().message());
  }
  return absl::FromUnixMicros(static_cast<int64_t>(std::llround(*seconds * 1e6)));
}

absl::StatusOr<std::string> Instance(const CsvTable& table, const CsvRecord& record,
                                     size_t column) {
  if (record.fields[column].empty()) {
    return table.Error(record, "the instance is empty");
  }
  return record.fields[column];
}

// The header must start with instance and timestamp (in that order, any case).
absl::Status CheckLeadingColumns(const CsvTable& table) {
  if (table.header.fields.size() < 2 ||
      !absl::EqualsIgnoreCase(table.header.fields[0], "instance") ||
      !absl::EqualsIgnoreCase(table.header.fields[1], "timestamp")) {
    return table.Error(table.header, "the header must start with instance,timestamp");
  }
  return absl::OkStatus();
}

}  // namespace

size_t FleetMetrics::rows() const {
  size_t n = 0;
  for (const auto& [instance, rows] : instances) {
    n += rows.size();
  }
  return n;
}

absl::StatusOr<FleetMetrics> ReadFleetMetrics(const std::string& path) {
  SF_ASSIGN_OR_RETURN(CsvTable table, ReadCsv(path));
  SF_RETURN_IF_ERROR(CheckLeadingColumns(table));
  FleetMetrics out;
  out.path = path;
  out.metrics.assign(table.header.fields.begin() + kFirstMetricColumn, table.header.fields.end());
  if (out.metrics.empty()) {
    return table.Error(table.header, "no metric columns after instance,timestamp");
  }
  for (size_t i = 0; i < out.metrics.size(); ++i) {
    if (std::count(out.metrics.begin(), out.metrics.end(), out.metrics[i]) > 1) {
      return table.Error(table.header,
                         absl::StrCat("metric \"", out.metrics[i], "\" appears twice"));
    }
  }
  for (const CsvRecord& record : table.records) {
    SF_ASSIGN_OR_RETURN(std::string instance, Instance(table, record, 0));
    MetricRow row;
    row.line = record.line;
    row.timestamp = record.fields[1];
    SF_ASSIGN_OR_RETURN(row.at, Timestamp(table, record, 1));
    for (size_t c = kFirstMetricColumn; c < record.fields.size(); ++c) {
      const std::string& field = record.fields[c];
      double value = std::numeric_limits<double>::quiet_NaN();
      if (!field.empty() && !absl::EqualsIgnoreCase(field, "nan") &&
          (!absl::SimpleAtod(field, &value) || !std::isfinite(value))) {
        return table.Error(record, absl::StrCat(table.header.fields[c], ": \"", field,
                                                "\" is not a finite number"));
      }
      row.values.push_back(value);
    }
    std::vector<MetricRow>& rows = out.instances[instance];
    if (!rows.empty() && row.at < rows.back().at) {
      return table.Error(
          record, absl::StrCat("instance ", instance, ": timestamp is older than the row on line ",
                               rows.back().line));
    }
    out.end = std::max(out.end, row.at);
    rows.push_back(std::move(row));
  }
  if (out.instances.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no data rows"));
  }
  return out;
}

absl::StatusOr<std::vector<FleetEvent>> ReadFleetEvents(const std::string& path) {
  SF_ASSIGN_OR_RETURN(CsvTable table, ReadCsv(path));
  SF_RETURN_IF_ERROR(CheckLeadingColumns(table));
  if (table.header.fields.size() > 3) {
    return table.Error(table.header, "expected instance,timestamp[,kind]");
  }
  std::vector<FleetEvent> out;
  for (const CsvRecord& record : table.records) {
    FleetEvent event;
    event.line = record.line;
    SF_ASSIGN_OR_RETURN(event.instance, Instance(table, record, 0));
    SF_ASSIGN_OR_RETURN(event.at, Timestamp(table, record, 1));
    event.kind =
        record.fields.size() > 2 && !record.fields[2].empty() ? record.fields[2] : "failure";
    out.push_back(std::move(event));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const FleetEvent& a, const FleetEvent& b) { return a.at < b.at; });
  return out;
}

}  // namespace shadowfleet

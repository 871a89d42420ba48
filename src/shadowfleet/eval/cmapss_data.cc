#include "shadowfleet/eval/cmapss_data.h"

#include <cmath>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "shadowfleet/common/files.h"
#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/eval/csv.h"

namespace shadowfleet {
namespace {

constexpr size_t kFirstSensorColumn = 2 + kCmapssSettings;

absl::StatusOr<double> Number(const CsvTable& table, const CsvRecord& record, size_t column) {
  double value = 0;
  const std::string& field = record.fields[column];
  if (!absl::SimpleAtod(field, &value) || !std::isfinite(value)) {
    return table.Error(
        record, absl::StrCat("column ", column + 1, " (", table.header.fields[column], "): \"",
                             field, "\" is not a finite number"));
  }
  return value;
}

}  // namespace

size_t CmapssSet::rows() const {
  size_t n = 0;
  for (const CmapssUnit& unit : units) {
    n += unit.rows();
  }
  return n;
}

CmapssSet CmapssSet::Subset(const std::vector<size_t>& indices) const {
  CmapssSet out;
  out.path = path;
  out.sensor_names = sensor_names;
  for (size_t i : indices) {
    out.units.push_back(units[i]);
  }
  return out;
}

absl::StatusOr<CmapssSet> ReadCmapssCsv(const std::string& path) {
  SF_ASSIGN_OR_RETURN(CsvTable table, ReadCsv(path));
  std::vector<size_t> sensor_columns;
  CmapssSet set;
  set.path = path;
  for (size_t c = kFirstSensorColumn; c < table.header.fields.size(); ++c) {
    if (!absl::EqualsIgnoreCase(table.header.fields[c], "RUL")) {
      sensor_columns.push_back(c);
      set.sensor_names.push_back(table.header.fields[c]);
    }
  }
  if (sensor_columns.empty()) {
    return table.Error(table.header,
                       absl::StrCat("expected unit, cycle, ", kCmapssSettings,
                                    " operating settings and at least one sensor column, found ",
                                    table.header.fields.size(), " columns"));
  }
  if (table.records.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no data rows"));
  }

  std::set<int64_t> finished;
  for (const CsvRecord& record : table.records) {
    SF_ASSIGN_OR_RETURN(double unit_value, Number(table, record, 0));
    SF_ASSIGN_OR_RETURN(double cycle, Number(table, record, 1));
    if (unit_value != std::floor(unit_value)) {
      return table.Error(record,
                         absl::StrCat("unit \"", record.fields[0], "\" is not a whole number"));
    }
    auto unit_id = static_cast<int64_t>(unit_value);
    if (set.units.empty() || set.units.back().id != unit_id) {
      if (!set.units.empty()) {
        finished.insert(set.units.back().id);
      }
      if (finished.count(unit_id) > 0) {
        return table.Error(record, absl::StrCat("unit ", unit_id,
                                                " appears again after other units' rows; a "
                                                "unit's rows must be together"));
      }
      set.units.push_back({.id = unit_id});
    }
    CmapssUnit& unit = set.units.back();
    if (!unit.cycles.empty() && cycle <= unit.cycles.back()) {
      return table.Error(record, absl::StrCat("cycle ", record.fields[1], " of unit ", unit_id,
                                              " does not follow cycle ", unit.cycles.back()));
    }
    unit.cycles.push_back(cycle);
    unit.lines.push_back(record.line);
    for (int s = 0; s < kCmapssSettings; ++s) {
      SF_ASSIGN_OR_RETURN(double v, Number(table, record, 2 + s));
      unit.settings.push_back(v);
    }
    for (size_t c : sensor_columns) {
      SF_ASSIGN_OR_RETURN(double v, Number(table, record, c));
      unit.sensors.push_back(v);
    }
  }
  return set;
}

absl::StatusOr<std::vector<double>> ReadRulFile(const std::string& path, size_t units) {
  SF_ASSIGN_OR_RETURN(std::string contents, ReadFile(path));
  std::vector<double> out;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) {
      continue;
    }
    double value = 0;
    if (!absl::SimpleAtod(line, &value) || !std::isfinite(value) || value < 0) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line_number, ": \"", line,
                                                     "\" is not a non-negative number of cycles"));
    }
    out.push_back(value);
  }
  if (out.size() != units) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", out.size(),
                                                   " remaining-life values, but the test file "
                                                   "has ",
                                                   units, " units"));
  }
  return out;
}

}  // namespace shadowfleet

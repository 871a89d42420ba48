#include "shadowfleet/eval/lanl.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/eval/csv.h"

namespace shadowfleet {
namespace {

constexpr double kHoursPerYear = 365.25 * 24;
constexpr const char* kCauseColumns[] = {"Facilities", "Hardware",     "Human Error",
                                         "Network",    "Undetermined", "Software"};

double Years(absl::Duration d) {
  return absl::ToDoubleHours(d) / kHoursPerYear;
}

int MonthNumber(absl::string_view name) {
  static constexpr const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                            "jul", "aug", "sep", "oct", "nov", "dec"};
  std::string lower = absl::AsciiStrToLower(name);
  for (int m = 0; m < 12; ++m) {
    if (lower == kMonths[m]) {
      return m + 1;
    }
  }
  return 0;
}

// "Nov-96" (month, two-digit year) or "2-Mar" (year of the 2000s, month; a spreadsheet's
// rewriting of "Mar-02"). Months are placed at their 15th, the middle of the month, since the
// records give no day. "current" is InfiniteFuture; empty or "before tracking" InfinitePast.
absl::StatusOr<absl::Time> ParseMonth(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (text.empty() || absl::AsciiStrToLower(text) == "before tracking") {
    return absl::InfinitePast();
  }
  if (absl::AsciiStrToLower(text) == "current") {
    return absl::InfiniteFuture();
  }
  std::vector<absl::string_view> parts = absl::StrSplit(text, '-');
  int year = 0;
  int month = 0;
  if (parts.size() == 2) {
    if (int y; absl::SimpleAtoi(parts[0], &y) && parts[0].size() <= 2) {
      year = 2000 + y;
      month = MonthNumber(parts[1]);
    } else if (absl::SimpleAtoi(parts[1], &y) && parts[1].size() == 2) {
      year = y >= 50 ? 1900 + y : 2000 + y;
      month = MonthNumber(parts[0]);
    }
  }
  if (month == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not a month (Nov-96, 2-Mar, current or before tracking)"));
  }
  return absl::FromCivil(absl::CivilDay(year, month, 15), absl::UTCTimeZone());
}

// "6/21/2005 10:54": month/day/year hour:minute, local time taken as UTC.
absl::StatusOr<absl::Time> ParseStamp(absl::string_view text) {
  std::vector<absl::string_view> date_time =
      absl::StrSplit(absl::StripAsciiWhitespace(text), ' ', absl::SkipEmpty());
  std::vector<absl::string_view> date =
      date_time.empty() ? std::vector<absl::string_view>() : absl::StrSplit(date_time[0], '/');
  std::vector<absl::string_view> time =
      date_time.size() == 2 ? absl::StrSplit(date_time[1], ':') : std::vector<absl::string_view>();
  int m = 0, d = 0, y = 0, hh = 0, mm = 0;
  if (date.size() != 3 || time.size() != 2 || !absl::SimpleAtoi(date[0], &m) ||
      !absl::SimpleAtoi(date[1], &d) || !absl::SimpleAtoi(date[2], &y) ||
      !absl::SimpleAtoi(time[0], &hh) || !absl::SimpleAtoi(time[1], &mm) || m < 1 || m > 12 ||
      d < 1 || d > 31 || hh > 23 || mm > 59) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not a time like 6/21/2005 10:54"));
  }
  return absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm), absl::UTCTimeZone());
}

// An optional number: empty gives `fallback`.
absl::StatusOr<double> OptionalNumber(absl::string_view text, double fallback) {
  text = absl::StripAsciiWhitespace(text);
  if (text.empty()) {
    return fallback;
  }
  double v = 0;
  if (!absl::SimpleAtod(text, &v) || !std::isfinite(v)) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not a number"));
  }
  return v;
}

struct Columns {
  size_t system, type, nodes, procs, node, production, decommission, started, fixed;
  std::vector<std::pair<size_t, std::string>> causes;
};

absl::StatusOr<Columns> FindColumns(const CsvTable& table) {
  Columns c;
  SF_ASSIGN_OR_RETURN(c.system, table.Column("System"));
  SF_ASSIGN_OR_RETURN(c.type, table.Column("machine type"));
  SF_ASSIGN_OR_RETURN(c.nodes, table.Column("nodes"));
  SF_ASSIGN_OR_RETURN(c.procs, table.Column("procsinnode"));
  SF_ASSIGN_OR_RETURN(c.node, table.Column("nodenum"));
  SF_ASSIGN_OR_RETURN(c.production, table.Column("node prod"));
  SF_ASSIGN_OR_RETURN(c.decommission, table.Column("node decom"));
  SF_ASSIGN_OR_RETURN(c.started, table.Column("Prob Started"));
  SF_ASSIGN_OR_RETURN(c.fixed, table.Column("Prob Fixed"));
  for (const char* name : kCauseColumns) {
    if (absl::StatusOr<size_t> i = table.Column(name); i.ok()) {
      c.causes.emplace_back(*i, name);
    }
  }
  return c;
}

// Wraps a field error with the file, line and column name.
absl::Status FieldError(const CsvTable& table, const CsvRecord& record, size_t column,
                        const absl::Status& status) {
  return table.Error(record, absl::StrCat(table.header.fields[column], ": ", status.message()));
}

absl::StatusOr<LanlFailure> ParseRecord(const CsvTable& table, const Columns& c,
                                        const CsvRecord& r) {
  LanlFailure f;
  f.line = r.line;
  f.machine_type = r.fields[c.type];
  auto number = [&](size_t column, double fallback) -> absl::StatusOr<double> {
    absl::StatusOr<double> v = OptionalNumber(r.fields[column], fallback);
    return v.ok() ? v : FieldError(table, r, column, v.status());
  };
  SF_ASSIGN_OR_RETURN(double system, number(c.system, -1));
  if (system < 0) {
    return table.Error(r, "System: missing");
  }
  f.system = static_cast<int>(system);
  SF_ASSIGN_OR_RETURN(f.nodes, number(c.nodes, 0));
  SF_ASSIGN_OR_RETURN(f.processors_per_node, number(c.procs, 0));
  SF_ASSIGN_OR_RETURN(double node, number(c.node, -1));
  f.node = static_cast<int>(node);
  for (auto [column, target] :
       {std::pair{c.production, &f.production}, std::pair{c.decommission, &f.decommission}}) {
    absl::StatusOr<absl::Time> t = ParseMonth(r.fields[column]);
    if (!t.ok()) {
      return FieldError(table, r, column, t.status());
    }
    *target = *t;
  }
  for (auto [column, target] : {std::pair{c.started, &f.started}, std::pair{c.fixed, &f.fixed}}) {
    absl::StatusOr<absl::Time> t = ParseStamp(r.fields[column]);
    if (!t.ok()) {
      return FieldError(table, r, column, t.status());
    }
    *target = *t;
  }
  for (const auto& [column, name] : c.causes) {
    if (!r.fields[column].empty()) {
      f.cause = name;
      break;
    }
  }
  return f;
}

// The power-law cumulative intensity lambda * age^beta by maximum likelihood, with lambda
// profiled out: beta maximises n ln(beta) + (beta - 1) sum(ln a_i) - n ln(sum N_c e_c^beta).
std::pair<double, double> FitPowerLaw(const std::vector<double>& ages,
                                      const std::vector<std::pair<double, double>>& cohorts) {
  const double n = static_cast<double>(ages.size());
  double sum_log = 0;
  for (double a : ages) {
    sum_log += std::log(std::max(a, 1.0 / kHoursPerYear));
  }
  auto exposure = [&](double beta) {
    double s = 0;
    for (const auto& [nodes, life] : cohorts) {
      s += nodes * std::pow(life, beta);
    }
    return s;
  };
  auto profile = [&](double beta) {
    return n * std::log(beta) + (beta - 1) * sum_log - n * std::log(exposure(beta));
  };
  double lo = 0.05, hi = 5.0;
  const double golden = (std::sqrt(5.0) - 1) / 2;
  for (int i = 0; i < 200; ++i) {
    double a = hi - golden * (hi - lo);
    double b = lo + golden * (hi - lo);
    if (profile(a) < profile(b)) {
      lo = a;
    } else {
      hi = b;
    }
  }
  double beta = (lo + hi) / 2;
  return {beta, n / exposure(beta)};
}

nlohmann::json Rate(double failures, double node_years) {
  double rate = node_years > 0 ? failures / node_years : 0.0;
  // Normal approximation to the Poisson interval; every band here has hundreds of failures.
  double half = node_years > 0 ? 1.96 * std::sqrt(failures) / node_years : 0.0;
  return {{"failures", failures},
          {"nodeYears", node_years},
          {"perNodeYear", rate},
          {"perHour", rate / kHoursPerYear},
          {"low", std::max(0.0, rate - half)},
          {"high", rate + half}};
}

}  // namespace

absl::StatusOr<std::vector<LanlFailure>> ReadLanlFailures(const std::string& path) {
  SF_ASSIGN_OR_RETURN(CsvTable table, ReadCsv(path));
  SF_ASSIGN_OR_RETURN(Columns columns, FindColumns(table));
  std::vector<LanlFailure> out;
  out.reserve(table.records.size());
  for (const CsvRecord& record : table.records) {
    SF_ASSIGN_OR_RETURN(LanlFailure f, ParseRecord(table, columns, record));
    out.push_back(std::move(f));
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no failure records"));
  }
  return out;
}

nlohmann::json FitLanlHazard(const std::vector<LanlFailure>& records,
                             const LanlFitOptions& options) {
  absl::Time end = absl::InfinitePast();
  for (const LanlFailure& f : records) {
    end = std::max(end, f.started);
  }

  // Eligible records, and the distinct failing nodes per system and per cohort.
  using CohortKey = std::tuple<int, absl::Time, absl::Time>;
  std::vector<const LanlFailure*> used;
  std::map<int, std::set<int>> system_nodes;
  std::map<CohortKey, std::set<int>> cohort_nodes;
  int large = 0, undated = 0;
  for (const LanlFailure& f : records) {
    if (f.processors_per_node <= 0 || f.processors_per_node > options.max_processors_per_node ||
        f.nodes <= 0) {
      ++large;
      continue;
    }
    if (f.production == absl::InfinitePast() || f.production == absl::InfiniteFuture()) {
      ++undated;
      continue;
    }
    used.push_back(&f);
    system_nodes[f.system].insert(f.node);
    cohort_nodes[{f.system, f.production, f.decommission}].insert(f.node);
  }

  // Cohort sizes: a system's nodes shared out in proportion to each cohort's failing nodes
  // (the records name a system's size, not a cohort's).
  std::map<int, double> system_size;
  for (const LanlFailure* f : used) {
    system_size[f->system] = f->nodes;
  }
  std::map<CohortKey, std::pair<double, double>> cohorts;  // nodes, life in years
  for (const auto& [key, nodes] : cohort_nodes) {
    const auto& [system, production, decommission] = key;
    double share = static_cast<double>(nodes.size()) / system_nodes[system].size();
    absl::Time stop = decommission == absl::InfiniteFuture() || decommission == absl::InfinitePast()
                          ? end
                          : decommission;
    cohorts[key] = {system_size[system] * share, std::max(0.0, Years(stop - production))};
  }

  // Failures and exposure by age band.
  std::vector<double> starts = {0.0};
  starts.insert(starts.end(), options.band_ends.begin(), options.band_ends.end());
  std::vector<double> band_failures(starts.size(), 0.0), band_exposure(starts.size(), 0.0);
  for (const auto& [key, cohort] : cohorts) {
    for (size_t b = 0; b < starts.size(); ++b) {
      double stop = b + 1 < starts.size() ? starts[b + 1] : 1e9;
      band_exposure[b] += cohort.first * std::max(0.0, std::min(cohort.second, stop) - starts[b]);
    }
  }
  std::vector<double> ages;
  int before_production = 0;
  for (const LanlFailure* f : used) {
    double age = Years(f->started - f->production);
    if (age < 0) {
      ++before_production;
      continue;
    }
    ages.push_back(age);
    size_t b = std::upper_bound(starts.begin(), starts.end(), age) - starts.begin() - 1;
    band_failures[b] += 1;
  }
  double total_exposure = 0;
  for (double e : band_exposure) {
    total_exposure += e;
  }
  nlohmann::json bands = nlohmann::json::array();
  for (size_t b = 0; b < starts.size(); ++b) {
    nlohmann::json band = Rate(band_failures[b], band_exposure[b]);
    band["fromYears"] = starts[b];
    band["toYears"] = b + 1 < starts.size() ? nlohmann::json(starts[b + 1]) : nlohmann::json();
    bands.push_back(band);
  }

  std::vector<std::pair<double, double>> exposure_list;
  for (const auto& [key, cohort] : cohorts) {
    exposure_list.push_back(cohort);
  }
  auto [beta, lambda] = FitPowerLaw(ages, exposure_list);
  const double overall = total_exposure > 0 ? ages.size() / total_exposure : 0.0;

  // The next failure of the same node after a repair, by time since the repair.
  std::map<std::pair<int, int>, std::vector<const LanlFailure*>> by_node;
  for (const LanlFailure* f : used) {
    if (f->node >= 0 && f->started >= f->production) {
      by_node[{f->system, f->node}].push_back(f);
    }
  }
  std::vector<double> window_failures(options.after_repair.size(), 0.0);
  std::vector<double> window_exposure(options.after_repair.size(), 0.0);
  for (auto& [node, failures] : by_node) {
    std::sort(failures.begin(), failures.end(),
              [](const LanlFailure* a, const LanlFailure* b) { return a->started < b->started; });
    const auto& cohort = cohorts[{node.first, failures[0]->production, failures[0]->decommission}];
    absl::Time stop = failures[0]->production + absl::Hours(cohort.second * kHoursPerYear);
    for (size_t i = 0; i < failures.size(); ++i) {
      absl::Time repaired = std::max(failures[i]->fixed, failures[i]->started);
      bool has_next = i + 1 < failures.size();
      absl::Duration at_risk =
          std::max(absl::ZeroDuration(), (has_next ? failures[i + 1]->started : stop) - repaired);
      absl::Duration from = absl::ZeroDuration();
      for (size_t w = 0; w < options.after_repair.size(); ++w) {
        absl::Duration to = options.after_repair[w];
        window_exposure[w] += Years(std::max(absl::ZeroDuration(), std::min(at_risk, to) - from));
        if (has_next && at_risk >= from && at_risk < to) {
          window_failures[w] += 1;
        }
        from = to;
      }
    }
  }
  nlohmann::json after = nlohmann::json::array();
  absl::Duration from = absl::ZeroDuration();
  for (size_t w = 0; w < options.after_repair.size(); ++w) {
    nlohmann::json window = Rate(window_failures[w], window_exposure[w]);
    window["fromHours"] = absl::ToDoubleHours(from);
    window["toHours"] = absl::ToDoubleHours(options.after_repair[w]);
    window["relative"] = overall > 0 ? window["perNodeYear"].get<double>() / overall : 0.0;
    after.push_back(window);
    from = options.after_repair[w];
  }

  nlohmann::json overall_json = Rate(static_cast<double>(ages.size()), total_exposure);
  overall_json["nodes"] = 0.0;
  for (const auto& [key, cohort] : cohorts) {
    overall_json["nodes"] = overall_json["nodes"].get<double>() + cohort.first;
  }
  return {{"data",
           {{"records", records.size()},
            {"used", ages.size()},
            {"skippedLargeNodes", large},
            {"skippedNoProductionMonth", undated},
            {"skippedBeforeProduction", before_production},
            {"systems", system_nodes.size()},
            {"cohorts", cohorts.size()},
            {"maxProcessorsPerNode", options.max_processors_per_node},
            {"recordsEnd", absl::FormatTime("%Y-%m-%d", end, absl::UTCTimeZone())}}},
          {"overall", overall_json},
          {"bands", bands},
          {"powerLaw", {{"beta", beta}, {"lambdaPerNodeYear", lambda}}},
          {"afterRepair", after}};
}

}  // namespace shadowfleet

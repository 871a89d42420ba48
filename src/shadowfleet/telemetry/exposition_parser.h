// A parser for the Prometheus text exposition format (version 0.0.4), the format
// node_exporter and most services serve on /metrics. It is a single pass over the text with
// no allocation per sample: names and label values are views into the input, valid only
// during the callback. Lines it cannot parse are reported with their line number and the
// reason, and parsing continues with the next line.
//
// No Debian 12 package provides a parser for this format in C or C++ (prometheus-cpp only
// serialises), so it is implemented here against the published format description.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shadowfleet {

struct LabelView {
  std::string_view name;
  std::string_view value;  // Still escaped (\\, \", \n); see UnescapeLabelValue().
};

struct SampleView {
  std::string_view name;
  const std::vector<LabelView>* labels;  // Sorted by name.
  double value;
  std::optional<int64_t> timestamp_ms;  // The optional timestamp after the value.
};

struct ParseProblem {
  int line;
  std::string reason;
};

enum class MetricType { kUntyped, kCounter, kGauge, kHistogram, kSummary };

class ExpositionParser {
 public:
  using SampleFn = std::function<void(const SampleView&)>;
  using ProblemFn = std::function<void(const ParseProblem&)>;

  // Parses `text`, calling `on_sample` for every sample line and `on_problem` for every line
  // that is not valid exposition format. Returns the number of samples.
  int Parse(std::string_view text, const SampleFn& on_sample, const ProblemFn& on_problem);

  // The TYPE declared for a metric family in the text parsed last, or kUntyped.
  MetricType TypeOf(std::string_view family) const;

 private:
  bool ParseSampleLine(std::string_view line, const SampleFn& on_sample, std::string* reason);
  void ParseComment(std::string_view line);

  std::vector<LabelView> labels_;  // Reused between samples.
  std::vector<std::pair<std::string, MetricType>> types_;
};

// Resolves the escapes of a label value.
std::string UnescapeLabelValue(std::string_view escaped);

}  // namespace shadowfleet

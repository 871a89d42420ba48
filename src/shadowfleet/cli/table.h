// Aligned plain-text tables for the CLI's default output.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace shadowfleet {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace shadowfleet

#include "shadowfleet/cli/table.h"

#include <algorithm>

namespace shadowfleet {

void Table::Print(std::ostream& out) const {
  std::vector<size_t> widths(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c) {
    widths[c] = headers_[c].size();
    for (const auto& row : rows_) {
      if (c < row.size()) {
        widths[c] = std::max(widths[c], row[c].size());
      }
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t c = 0; c < headers_.size(); ++c) {
      std::string cell = c < cells.size() ? cells[c] : "";
      out << cell;
      if (c + 1 < headers_.size()) {
        out << std::string(widths[c] - cell.size() + 2, ' ');
      }
    }
    out << '\n';
  };
  line(headers_);
  for (const auto& row : rows_) {
    line(row);
  }
}

}  // namespace shadowfleet

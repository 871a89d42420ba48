// The one logging facade: a named spdlog logger per component, all writing to the same sink.
// Messages carry structured `key=value` fields with stable names (instance=, version=,
// replica=, switchover=) so that operators can grep and parse them.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

namespace shadowfleet {

// Returns the logger of `component`, creating it on first use. Thread-safe.
std::shared_ptr<spdlog::logger> Logger(std::string_view component);

// Sets the level of every logger: "trace", "debug", "info", "warn", "error", "off".
// Unknown names leave the level unchanged and return false.
bool SetLogLevel(std::string_view level);

// Sends every logger's output to `path` instead of stderr (used by the demo, whose terminal
// belongs to its own report). An empty path restores stderr.
void SetLogFile(const std::string& path);

}  // namespace shadowfleet

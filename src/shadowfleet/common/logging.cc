#include "shadowfleet/common/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <mutex>

namespace shadowfleet {
namespace {

struct LogState {
  std::mutex mu;
  spdlog::sink_ptr sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  spdlog::level::level_enum level = spdlog::level::info;
};

LogState& State() {
  static auto* state = new LogState();
  return *state;
}

constexpr char kPattern[] = "%Y-%m-%dT%H:%M:%S.%e %^%L%$ %n: %v";

}  // namespace

std::shared_ptr<spdlog::logger> Logger(std::string_view component) {
  LogState& state = State();
  std::lock_guard lock(state.mu);
  std::string name(component);
  if (auto existing = spdlog::get(name)) {
    return existing;
  }
  auto logger = std::make_shared<spdlog::logger>(name, state.sink);
  logger->set_level(state.level);
  logger->set_pattern(kPattern);
  spdlog::register_logger(logger);
  return logger;
}

bool SetLogLevel(std::string_view level) {
  auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") {
    return false;
  }
  LogState& state = State();
  std::lock_guard lock(state.mu);
  state.level = parsed;
  spdlog::apply_all([parsed](const std::shared_ptr<spdlog::logger>& l) { l->set_level(parsed); });
  return true;
}

void SetLogFile(const std::string& path) {
  LogState& state = State();
  std::lock_guard lock(state.mu);
  if (path.empty()) {
    state.sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    state.sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
  }
  spdlog::apply_all([&state](const std::shared_ptr<spdlog::logger>& l) {
    l->sinks().clear();
    l->sinks().push_back(state.sink);
    l->set_pattern(kPattern);
  });
}

}  // namespace shadowfleet

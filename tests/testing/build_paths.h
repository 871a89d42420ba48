// Where tests find the project's binaries (the workload, the daemon, the load generator) and
// its source tree (example plug-ins). tests/CMakeLists.txt defines both for every test binary.
#pragma once

#include <string>

namespace shadowfleet::testing {

inline std::string BinaryDir() {
  return SHADOWFLEET_BINARY_DIR;
}
inline std::string SourceDir() {
  return SHADOWFLEET_SOURCE_DIR;
}
inline std::string ShadowfleetBinary() {
  return BinaryDir() + "/shadowfleet";
}

}  // namespace shadowfleet::testing

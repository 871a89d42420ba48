// Where the integration tests find the binaries they start.
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

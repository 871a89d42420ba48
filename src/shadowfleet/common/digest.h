// Content digests. Configuration versions are identified by the SHA-256 of their canonical
// JSON text, so that two replicas with the same digest provably hold the same configuration.
#pragma once

#include <string>
#include <string_view>

namespace shadowfleet {

// The 32 raw bytes of SHA-256(data).
std::string Sha256(std::string_view data);

// Lower-case hexadecimal of arbitrary bytes.
std::string HexEncode(std::string_view bytes);

}  // namespace shadowfleet

// A client for HAProxy's runtime API (the "stats socket" with `level admin`), and parsers for
// the replies the haproxy router reads. HAProxy answers one command per connection in its
// non-interactive mode, so every Send() opens a connection, writes one line and reads the
// reply until HAProxy closes it.
//
//   HaproxyRuntimeApi api("unix:/run/haproxy/admin.sock", absl::Seconds(2));
//   absl::StatusOr<std::string> reply = api.Send("get weight web/web-0");
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace shadowfleet {

// Bits of `srv_admin_state` in `show servers state` (HAProxy's SRV_ADMF_* flags).
inline constexpr int kAdminForcedMaint = 0x01;
inline constexpr int kAdminInheritedMaint = 0x02;
inline constexpr int kAdminConfiguredMaint = 0x04;
inline constexpr int kAdminForcedDrain = 0x08;
inline constexpr int kAdminInheritedDrain = 0x10;
inline constexpr int kAdminResolutionMaint = 0x20;
inline constexpr int kAdminHostnameMaint = 0x40;
inline constexpr int kAdminAnyMaint = kAdminForcedMaint | kAdminInheritedMaint |
                                      kAdminConfiguredMaint | kAdminResolutionMaint |
                                      kAdminHostnameMaint;
inline constexpr int kAdminAnyDrain = kAdminForcedDrain | kAdminInheritedDrain;

// Bits of `srv_check_state` (HAProxy's CHK_ST_* flags).
inline constexpr int kCheckConfigured = 0x02;
inline constexpr int kCheckEnabled = 0x04;

// One row of `show servers state <backend>`.
struct HaproxyServerState {
  std::string backend;
  std::string name;
  std::string address;  // The IP HAProxy uses ("-" while unresolved).
  int port = 0;
  int op_state = 0;  // 0 stopped, 1 starting, 2 running, 3 stopping.
  int admin_state = 0;
  int user_weight = 0;  // The weight set by configuration or `set weight`.
  int check_state = 0;
};

// Talks to one runtime API endpoint. Thread-safe: it holds no connection between calls.
class HaproxyRuntimeApi {
 public:
  // `endpoint`: "unix:/path/to/socket" or "host:port". `timeout` bounds each Send() as a
  // whole: connecting, writing and reading the reply.
  HaproxyRuntimeApi(std::string endpoint, absl::Duration timeout);

  // Sends one command (without newline) and returns HAProxy's reply verbatim. UNAVAILABLE
  // when the socket cannot be reached, the connection breaks or the reply does not arrive in
  // time; INVALID_ARGUMENT for an endpoint that is not "unix:/path" or "host:port", or a
  // command containing a newline. The reply's meaning is the caller's to judge.
  absl::StatusOr<std::string> Send(absl::string_view command) const;

  const std::string& endpoint() const { return endpoint_; }

 private:
  const std::string endpoint_;
  const absl::Duration timeout_;
};

// Parses the reply to `show servers state [<backend>]` (format version 1), locating columns
// by the names of its header line so that columns added by later HAProxy versions do not
// matter. UNKNOWN, quoting the reply, when it is not in that format.
absl::StatusOr<std::vector<HaproxyServerState>> ParseServersState(absl::string_view reply);

// Parses the reply to `get weight <backend>/<server>` ("90 (initial 100)") into the current
// weight; nullopt when the reply does not start with a number (it is then an error message).
std::optional<int> ParseWeightReply(absl::string_view reply);

// A reply shortened to its first line and at most a few hundred characters, for messages.
std::string QuoteReply(absl::string_view reply);

}  // namespace shadowfleet

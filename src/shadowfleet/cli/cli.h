// The `shadowfleet` command line: the daemon (`serve`), the client commands that talk to it
// over the HTTP API (`apply`, `get`, `describe`, `config`, `events`) and the demo.
//
// Exit codes: 0 success, 1 the request failed (the daemon said why), 2 usage or input error,
// 3 the daemon could not be reached.
#pragma once

namespace shadowfleet {

int RunCli(int argc, char** argv);

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

}  // namespace shadowfleet

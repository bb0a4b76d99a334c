#pragma once
// `sallyport attest` for router/main.cpp:
//   attest [-c F] [--json]             signs and prints the statement (governance/attestation.hpp)
//                                      computed from the config and the state on disk: identity
//                                      key from state_dir, blocklist from the bundled list, file
//                                      feeds and the feed cache, audit head from the audit dir,
//                                      kernel guard from the pin dir. Human summary by default.
//   attest verify FILE --pubkey K      K = 64 hex digits (as keygen and /admin/identity print)
//                                      or a file holding them; FILE "-" reads stdin.
// Exit codes: 0 printed / signature valid; 1 the statement could not be made (no identity key,
// unreadable policy) or does not verify (the reason is printed); 2 usage or config error.
#include <CLI/CLI.hpp>

namespace sallyport::router {

// Adds `attest` (and `attest verify`) to `app`; callbacks store their exit code in `exit_code`,
// which must outlive app.parse().
void register_attest_cli(CLI::App& app, int& exit_code);

}  // namespace sallyport::router

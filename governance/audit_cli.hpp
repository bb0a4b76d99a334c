#pragma once
// CLI entry points the router's `sallyport` binary wires to subcommands. Each writes
// human-readable (or --json) output to `out` and returns the process exit code.
#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "governance/audit_verify.hpp"

namespace sallyport::audit {

// `sallyport audit verify FILE|DIR [--pubkey HEX|FILE] [--json]`
// Exit 0: intact. 1: broken (prints the first bad record and the reason). 2: usage/IO error
// (unreadable path, bad --pubkey). A log whose newest records are not yet covered by a final
// checkpoint counts as broken ("truncated"); the overload with `allow_open_tail` accepts it.
int run_audit_verify(const std::string& path, const std::optional<std::string>& pubkey, bool json,
                     std::ostream& out);
int run_audit_verify(const std::string& path, const std::optional<std::string>& pubkey, bool json,
                     bool allow_open_tail, std::ostream& out);

// `sallyport audit tail [-f] [-n LINES] [DIR|FILE]`: pretty-prints the last `lines` records (of
// the newest segment when given a dir); with follow, keeps printing new records (also across
// rotation) until the process is interrupted. Exit 2 when nothing can be read.
int run_audit_tail(const std::string& dir_or_file, bool follow, std::size_t lines, std::ostream& out);

// `sallyport keygen [--state-dir D] [--force]`: creates the sandbox Ed25519 key, prints key id
// and public key (hex). Refuses (exit 1) to overwrite an existing key unless force. Exit 2 on IO.
int run_keygen(const std::string& state_dir, std::ostream& out, bool force = false);

// One record as a single human-readable line: "ts #seq kind decision reason sandbox/… detail".
// Control characters in untrusted fields are escaped. Unparseable lines are shown escaped.
std::string format_record_pretty(std::string_view line);

}  // namespace sallyport::audit

#pragma once
// The `sallyport policy check FILE` and `sallyport policy test FILE --tool NAME --args JSON
// [--trust N] [--profile P]` subcommands, as plain functions so router/main.cpp only parses
// flags and tests can call them directly.
#include <optional>
#include <ostream>
#include <string>

namespace sallyport::governance {

// Loads FILE strictly. Prints "OK: FILE: profile 'P' active, N rules (profiles: a, b)" and
// returns 0, or prints every error as "FILE: /pointer: message" (one per line) and returns 1.
int run_policy_check(const std::string& file, std::ostream& out,
                     const std::optional<std::string>& profile = std::nullopt);

// Loads FILE and evaluates one call. Prints
//   decision: allow|deny
//   action: allow|deny|require_approval|log
//   reason: tool:allowed | tool:denied | ...
//   rule: <rule name or default>
// (plus "detail: ..." when there is one). Returns 0 when the call was evaluated (whatever the
// verdict), 1 when the policy does not load, 2 when args_json is not valid JSON.
// `trust` is the agent's score (min_trust is ignored without it); `trust_threshold` as in the
// trust config (DESIGN default 500).
int run_policy_test(const std::string& file, const std::string& tool, const std::string& args_json,
                    std::optional<int> trust, std::ostream& out,
                    const std::optional<std::string>& profile = std::nullopt,
                    int trust_threshold = 0);

}  // namespace sallyport::governance

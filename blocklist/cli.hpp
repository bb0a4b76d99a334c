#pragma once
// Output for `sallyport blocklist check NAME|IP|URL` and `sallyport blocklist stats`.
#include "blocklist/egress_policy.hpp"
#include "blocklist/store.hpp"

#include <ostream>
#include <string_view>

namespace sallyport::blocklist {

// Checks `target` (a host name, an IP literal in any spelling, or an http(s) URL whose host is
// checked) and prints target, normalised host, decision, reason, rule and detail; for IP literals
// also the verdict it would get as a resolved address. Untrusted text is escaped.
// Returns the process exit code: 0 allowed, 1 denied, 2 invalid input (reason "host:invalid").
int print_blocklist_check(const EgressPolicy& policy, std::string_view target, std::ostream& out);

// Prints per-feed counts (domains, IPs, parse errors with the first line numbers, unsupported
// rules, skipped lines), last refresh time (UTC), last error and failures, then the totals.
// Returns 0 when the store is ready, 1 otherwise.
int print_blocklist_stats(const BlocklistStore& store, std::ostream& out);

}  // namespace sallyport::blocklist

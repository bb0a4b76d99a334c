#pragma once
// Host name normalisation shared by feed parsing, configuration and request checks, so a feed
// entry and a request host meet in the same spelling.
#include <string>
#include <string_view>

namespace sallyport::blocklist {

inline constexpr std::size_t kMaxHostLength = 253;
inline constexpr std::size_t kMaxLabelLength = 63;

// Normalises `host` into `out`: strips one trailing dot, maps non-ASCII names through IDNA
// UTS#46 non-transitional to A-labels (libidn2; ASCII A-labels are kept as DNS sees them), lower-cases, and
// checks every label is 1..63 characters of [a-z0-9_-] and the whole name is at most 253.
// Returns an empty view on success, otherwise a static message saying what was wrong
// (the caller maps it to reason "host:invalid"). Never throws; `out` is reused to avoid
// allocating per call.
std::string_view normalize_host_into(std::string_view host, std::string& out);

struct NormalizedHost {
  std::string host;        // A-label, lower-case, no trailing dot (valid when error is empty)
  std::string_view error;  // static message; empty on success
  bool ok() const noexcept { return error.empty(); }
};
NormalizedHost normalize_host(std::string_view host);

}  // namespace sallyport::blocklist

#pragma once
// CIDR blocks over IpAddress (IPv4 blocks live in the v4-mapped part of the v6 space, so one
// 16-byte prefix compare serves both families) and the built-in special-purpose ranges that
// check_address denies.
#include "blocklist/egress_policy.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sallyport::blocklist {

struct CidrBlock {
  IpAddress network;          // host bits cleared
  unsigned prefix_bits = 0;   // 0..128 in the v6 space (an IPv4 /8 is stored as /104)
  std::string text;           // canonical spelling for Decision::rule: "169.254.0.0/16"

  bool contains(const IpAddress& address) const noexcept;
};

// Parses "10.0.0.0/8", "fd00::/8", or a bare address (a /32 or /128). Only dotted-quad IPv4 is
// accepted in configuration. On failure returns nullopt and sets *error (what and expected).
std::optional<CidrBlock> parse_cidr(std::string_view text, std::string* error = nullptr);

// A built-in range and the deny reason it carries ("ip:metadata", "ip:private", ...).
struct SpecialRange {
  CidrBlock block;
  std::string_view reason;
};

// The first built-in special range (metadata first, then broadcast before reserved 240/4)
// containing `address` (no embedded-v4 unwrapping here), or nullptr.
const SpecialRange* find_special_range(const IpAddress& address);

// The metadata block containing `address`, or nullptr. Metadata can never be allowed.
const SpecialRange* find_metadata_range(const IpAddress& address);

// Every built-in range, in match order (for documentation and tests).
const std::vector<SpecialRange>& special_ranges();

}  // namespace sallyport::blocklist

#pragma once
// C++ view of bpf/guard_shared.h: modes, reason and hook names (metric labels), and the
// address/prefix encoding the LPM tries use (IPv4 stored v4-mapped, prefixlen + 96).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bpf/guard_shared.h"
#include "bpf/result.hpp"

namespace sallyport::bpf {

enum class GuardMode : std::uint32_t {
  off = GUARD_MODE_OFF,
  observe = GUARD_MODE_OBSERVE,
  enforce = GUARD_MODE_ENFORCE,
};

std::optional<GuardMode> parse_guard_mode(std::string_view name);  // "off"|"observe"|"enforce"
const char* to_string(GuardMode mode);

// Stable label for enum guard_reason: "metadata", "egress", "dns-not-resolver", "raw-socket",
// "packet-socket", "quarantine", "admin-port"; "unknown" outside the set.
const char* guard_reason_name(unsigned reason);
// "connect4", "connect6", "sendmsg4", "sendmsg6", "sock_create", "skb_egress"; "unknown".
const char* guard_hook_name(unsigned hook);
// "tcp", "udp", "icmp", "icmpv6", "raw", or the number.
std::string guard_protocol_name(unsigned proto);

// Text of an event address: dotted quad for AF_INET, RFC 5952 text for AF_INET6 (a v4-mapped
// address prints as ::ffff:a.b.c.d), "" for families without an address (AF_PACKET).
std::string format_guard_addr(const std::uint8_t (&addr)[GUARD_ADDR_LEN], unsigned family);

// Parses "IP" or "IP/len" for IPv4 or IPv6 into an LPM key. Errors name the text and the
// expected shape; host bits beyond the prefix are cleared.
Result<guard_lpm_key> parse_guard_prefix(std::string_view text);
// Inverse of parse_guard_prefix: "169.254.169.254/32", "fd00:ec2::254/128".
std::string format_guard_prefix(const guard_lpm_key& key);

// Metadata services no UID but the router's may reach: AWS/GCP/OpenStack IMDS, ECS task
// metadata, Azure wireserver, Alibaba, AWS IMDS over IPv6. v4-mapped forms are implied by the
// encoding.
const std::vector<std::string>& default_metadata_prefixes();

}  // namespace sallyport::bpf

#include "bpf/guard_types.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <charconv>
#include <cstring>

namespace sallyport::bpf {

Error errno_error(std::string what, int errno_value) {
  what += ": ";
  what += std::strerror(errno_value);
  return Error{std::move(what), errno_value};
}

std::optional<GuardMode> parse_guard_mode(std::string_view name) {
  if (name == "off") return GuardMode::off;
  if (name == "observe") return GuardMode::observe;
  if (name == "enforce") return GuardMode::enforce;
  return std::nullopt;
}

const char* to_string(GuardMode mode) {
  switch (mode) {
    case GuardMode::off:
      return "off";
    case GuardMode::observe:
      return "observe";
    case GuardMode::enforce:
      return "enforce";
  }
  return "unknown";
}

const char* guard_reason_name(unsigned reason) {
  static constexpr std::array<const char*, GUARD_REASON_MAX> kNames = {
      "none",       "metadata",      "egress",     "dns-not-resolver",
      "raw-socket", "packet-socket", "quarantine", "admin-port"};
  return reason < kNames.size() ? kNames[reason] : "unknown";
}

const char* guard_hook_name(unsigned hook) {
  static constexpr std::array<const char*, GUARD_HOOK_MAX> kNames = {
      "connect4", "connect6", "sendmsg4", "sendmsg6", "sock_create", "skb_egress"};
  return hook < kNames.size() ? kNames[hook] : "unknown";
}

std::string guard_protocol_name(unsigned proto) {
  switch (proto) {
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    case IPPROTO_ICMP:
      return "icmp";
    case IPPROTO_ICMPV6:
      return "icmpv6";
    case IPPROTO_RAW:
      return "raw";
    default:
      return std::to_string(proto);
  }
}

namespace {

bool is_v4_mapped(const std::uint8_t* a) {
  static constexpr std::uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a, kPrefix, sizeof kPrefix) == 0;
}

std::string ntop(int family, const void* src) {
  char text[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(family, src, text, sizeof text) == nullptr) return {};
  return text;
}

}  // namespace

std::string format_guard_addr(const std::uint8_t (&addr)[GUARD_ADDR_LEN], unsigned family) {
  if (family == AF_INET) return ntop(AF_INET, &addr[12]);
  if (family == AF_INET6) return ntop(AF_INET6, addr);
  return {};
}

Result<guard_lpm_key> parse_guard_prefix(std::string_view text) {
  const auto expected = " (expected an IPv4 or IPv6 address, optionally with /prefix-length)";
  const auto slash = text.find('/');
  const std::string host(text.substr(0, slash));
  guard_lpm_key key{};
  unsigned max_len = 0;
  unsigned offset = 0;
  if (in_addr v4{}; inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    key.addr[10] = 0xff;
    key.addr[11] = 0xff;
    std::memcpy(&key.addr[12], &v4, 4);
    max_len = 32;
    offset = 96;
  } else if (in6_addr v6{}; inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    std::memcpy(key.addr, &v6, 16);
    max_len = 128;
  } else {
    return Error{"invalid address '" + std::string(text) + "'" + expected};
  }
  unsigned len = max_len;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() ||
        len > max_len) {
      return Error{"invalid prefix length in '" + std::string(text) + "' (expected 0-" +
                   std::to_string(max_len) + ")"};
    }
  }
  key.prefixlen = offset + len;
  for (unsigned bit = key.prefixlen; bit < 128; ++bit) {
    key.addr[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  }
  return key;
}

std::string format_guard_prefix(const guard_lpm_key& key) {
  if (key.prefixlen >= 96 && is_v4_mapped(key.addr)) {
    return ntop(AF_INET, &key.addr[12]) + "/" + std::to_string(key.prefixlen - 96);
  }
  return ntop(AF_INET6, key.addr) + "/" + std::to_string(key.prefixlen);
}

const std::vector<std::string>& default_metadata_prefixes() {
  static const std::vector<std::string> kPrefixes = {"169.254.169.254/32", "169.254.170.2/32",
                                                     "168.63.129.16/32", "100.100.100.200/32",
                                                     "fd00:ec2::254/128"};
  return kPrefixes;
}

}  // namespace sallyport::bpf

// IpAddress: literal parsing for every spelling a URL parser (WHATWG) or inet_aton accepts, and
// extraction of the IPv4 address hidden in v6 wrappers. Nothing here allocates on failure paths
// and nothing throws: untrusted host strings come straight from agent requests.
#include "blocklist/egress_policy.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace sallyport::blocklist {
namespace {

constexpr std::uint64_t kTooBig = std::uint64_t{1} << 40;  // sentinel: larger than any IPv4 part

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// One dot-separated IPv4 part: "0x"/"0X" prefix = hex, a leading 0 = octal, else decimal
// (WHATWG "IPv4 number parser"; same radix rules as inet_aton). "0x" alone is 0.
std::optional<std::uint64_t> parse_ipv4_number(std::string_view part) {
  if (part.empty()) return std::nullopt;
  int radix = 10;
  if (part.size() >= 2 && part[0] == '0' && (part[1] == 'x' || part[1] == 'X')) {
    radix = 16;
    part.remove_prefix(2);
  } else if (part.size() >= 2 && part[0] == '0') {
    radix = 8;
    part.remove_prefix(1);
  }
  std::uint64_t value = 0;
  for (char c : part) {
    int digit = 0;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (radix == 16 && is_hex_digit(c)) {
      digit = (c | 0x20) - 'a' + 10;
    } else {
      return std::nullopt;
    }
    if (digit >= radix) return std::nullopt;
    value = value * static_cast<std::uint64_t>(radix) + static_cast<std::uint64_t>(digit);
    if (value > kTooBig) value = kTooBig;  // saturate: "99999999999999999999" must not wrap
  }
  return value;
}

// Splits on '.', dropping one trailing empty part ("1.2.3.4." is accepted by URL parsers).
// Returns the number of parts, or 0 when there are more than 4 or an empty one.
std::size_t split_ipv4_parts(std::string_view text, std::array<std::string_view, 4>& parts) {
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);
  if (text.empty()) return 0;
  std::size_t count = 0;
  while (true) {
    const auto dot = text.find('.');
    const auto part = text.substr(0, dot);
    if (part.empty() || count == 4) return 0;
    parts[count++] = part;
    if (dot == std::string_view::npos) break;
    text.remove_prefix(dot + 1);
  }
  return count;
}

std::optional<IpAddress> parse_ipv4(std::string_view text) {
  std::array<std::string_view, 4> parts;
  const std::size_t count = split_ipv4_parts(text, parts);
  if (count == 0) return std::nullopt;
  std::uint64_t address = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const auto number = parse_ipv4_number(parts[i]);
    if (!number) return std::nullopt;
    if (i + 1 < count) {
      if (*number > 255) return std::nullopt;
      address |= *number << (8 * (3 - i));
    } else {
      // The last part fills every byte the earlier parts left: "169.16689662" is 169.254.169.254.
      const std::uint64_t limit = std::uint64_t{1} << (8 * (5 - count));
      if (*number >= limit) return std::nullopt;
      address |= *number;
    }
  }
  return IpAddress::v4(static_cast<std::uint32_t>(address));
}

std::optional<IpAddress> parse_ipv6(std::string_view text) {
  // Zone ids ("fe80::1%eth0", URL form "%25eth0") name an interface, not part of the address.
  if (const auto percent = text.find('%'); percent != std::string_view::npos) {
    const auto zone = text.substr(percent + 1);
    if (zone.empty() || zone.size() > 64) return std::nullopt;
    for (char c : zone) {
      if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
        return std::nullopt;
      }
    }
    text = text.substr(0, percent);
  }
  if (text.empty() || text.size() > 45) return std::nullopt;  // INET6_ADDRSTRLEN - 1
  // inet_pton stops at a NUL; "::1\0junk" must not parse as ::1.
  for (char c : text) {
    if (!is_hex_digit(c) && c != ':' && c != '.') return std::nullopt;
  }
  char buffer[46];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  std::array<std::uint8_t, 16> bytes{};
  if (inet_pton(AF_INET6, buffer, bytes.data()) != 1) return std::nullopt;
  return IpAddress::v6(bytes);
}

}  // namespace

IpAddress IpAddress::v4(std::uint32_t host_order) {
  IpAddress address;
  address.bytes[10] = 0xff;
  address.bytes[11] = 0xff;
  address.bytes[12] = static_cast<std::uint8_t>(host_order >> 24);
  address.bytes[13] = static_cast<std::uint8_t>(host_order >> 16);
  address.bytes[14] = static_cast<std::uint8_t>(host_order >> 8);
  address.bytes[15] = static_cast<std::uint8_t>(host_order);
  address.is_v4 = true;
  return address;
}

IpAddress IpAddress::v6(const std::array<std::uint8_t, 16>& network_order) {
  IpAddress address;
  address.bytes = network_order;
  address.is_v4 = false;
  return address;
}

std::optional<IpAddress> IpAddress::parse_literal(std::string_view text) {
  if (text.empty() || text.size() > 128) return std::nullopt;
  if (text.front() == '[') {
    if (text.size() < 3 || text.back() != ']') return std::nullopt;
    // Brackets hold only IPv6; a zone id in URL spelling ("%25eth0") is dropped like "%eth0".
    return parse_ipv6(text.substr(1, text.size() - 2));
  }
  if (text.find(':') != std::string_view::npos) return parse_ipv6(text);
  return parse_ipv4(text);
}

std::uint32_t IpAddress::v4_host_order() const {
  return (std::uint32_t{bytes[12]} << 24) | (std::uint32_t{bytes[13]} << 16) |
         (std::uint32_t{bytes[14]} << 8) | std::uint32_t{bytes[15]};
}

std::string IpAddress::to_string() const {
  if (is_v4) {
    return std::to_string(bytes[12]) + '.' + std::to_string(bytes[13]) + '.' +
           std::to_string(bytes[14]) + '.' + std::to_string(bytes[15]);
  }
  char buffer[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(AF_INET6, bytes.data(), buffer, sizeof buffer) == nullptr) return {};
  return buffer;
}

std::optional<IpAddress> IpAddress::embedded_v4() const {
  if (is_v4) return *this;
  const auto zero = [this](std::size_t from, std::size_t to) {
    return std::all_of(bytes.begin() + static_cast<std::ptrdiff_t>(from),
                       bytes.begin() + static_cast<std::ptrdiff_t>(to),
                       [](std::uint8_t b) { return b == 0; });
  };
  const auto v4_at = [this](std::size_t at, std::uint8_t mask) {
    return IpAddress::v4((std::uint32_t{static_cast<std::uint8_t>(bytes[at] ^ mask)} << 24) |
                         (std::uint32_t{static_cast<std::uint8_t>(bytes[at + 1] ^ mask)} << 16) |
                         (std::uint32_t{static_cast<std::uint8_t>(bytes[at + 2] ^ mask)} << 8) |
                         std::uint32_t{static_cast<std::uint8_t>(bytes[at + 3] ^ mask)});
  };
  // ::ffff:a.b.c.d (mapped) and ::ffff:0:a.b.c.d (SIIT translated).
  if (zero(0, 10) && bytes[10] == 0xff && bytes[11] == 0xff) return v4_at(12, 0);
  if (zero(0, 8) && bytes[8] == 0xff && bytes[9] == 0xff && zero(10, 12)) return v4_at(12, 0);
  // ::a.b.c.d (deprecated v4-compatible); :: and ::1 are the v6 unspecified/loopback addresses.
  if (zero(0, 12) && v4_at(12, 0).v4_host_order() > 1) return v4_at(12, 0);
  // 64:ff9b::/96 NAT64 well-known prefix.
  if (bytes[0] == 0x00 && bytes[1] == 0x64 && bytes[2] == 0xff && bytes[3] == 0x9b &&
      zero(4, 12)) {
    return v4_at(12, 0);
  }
  if (bytes[0] == 0x20 && bytes[1] == 0x02) return v4_at(2, 0);  // 6to4 2002:AABB:CCDD::/48
  // Teredo 2001:0::/32: the client's public address is stored bit-inverted in the last 32 bits.
  if (bytes[0] == 0x20 && bytes[1] == 0x01 && bytes[2] == 0x00 && bytes[3] == 0x00) {
    return v4_at(12, 0xff);
  }
  return std::nullopt;
}

}  // namespace sallyport::blocklist

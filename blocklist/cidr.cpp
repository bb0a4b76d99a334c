#include "blocklist/cidr.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <stdexcept>

namespace sallyport::blocklist {
namespace {

bool strict_dotted_quad(std::string_view text) {
  // Configuration is written by people: accept only a.b.c.d, not the exotic spellings.
  int dots = 0;
  for (char c : text) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dots == 3;
}

IpAddress mask_to_prefix(IpAddress address, unsigned prefix_bits) {
  for (unsigned bit = prefix_bits; bit < 128; ++bit) {
    address.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  }
  return address;
}

std::vector<SpecialRange> build_special_ranges() {
  const std::pair<const char*, std::string_view> table[] = {
      // Cloud metadata: AWS/GCP/Azure/OCI IMDS, AWS ECS task metadata, AWS IMDS over IPv6,
      // Azure WireServer, Alibaba Cloud.
      {"169.254.169.254/32", "ip:metadata"}, {"169.254.170.2/32", "ip:metadata"},
      {"fd00:ec2::254/128", "ip:metadata"},  {"168.63.129.16/32", "ip:metadata"},
      {"100.100.100.200/32", "ip:metadata"},
      {"255.255.255.255/32", "ip:broadcast"},
      {"127.0.0.0/8", "ip:loopback"},        {"::1/128", "ip:loopback"},
      {"10.0.0.0/8", "ip:private"},          {"172.16.0.0/12", "ip:private"},
      {"192.168.0.0/16", "ip:private"},      {"fc00::/7", "ip:private"},
      {"fec0::/10", "ip:private"},  // deprecated site-local, still routed internally
      {"169.254.0.0/16", "ip:link-local"},   {"fe80::/10", "ip:link-local"},
      {"100.64.0.0/10", "ip:cgnat"},
      {"224.0.0.0/4", "ip:multicast"},       {"ff00::/8", "ip:multicast"},
      {"0.0.0.0/8", "ip:unspecified"},       {"::/128", "ip:unspecified"},
      {"192.0.0.0/24", "ip:reserved"},       {"198.18.0.0/15", "ip:reserved"},
      {"240.0.0.0/4", "ip:reserved"},        {"100::/64", "ip:reserved"},
      {"64:ff9b:1::/48", "ip:reserved"},  // local-use NAT64 (RFC 8215): embedding varies
  };
  std::vector<SpecialRange> ranges;
  for (const auto& [text, reason] : table) {
    std::string error;
    auto block = parse_cidr(text, &error);
    if (!block) throw std::logic_error("built-in CIDR table: " + error);
    ranges.push_back(SpecialRange{std::move(*block), reason});
  }
  return ranges;
}

}  // namespace

bool CidrBlock::contains(const IpAddress& address) const noexcept {
  const unsigned full_bytes = prefix_bits / 8;
  for (unsigned i = 0; i < full_bytes; ++i) {
    if (address.bytes[i] != network.bytes[i]) return false;
  }
  const unsigned rest = prefix_bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff00u >> rest);
  return (address.bytes[full_bytes] & mask) == network.bytes[full_bytes];
}

std::optional<CidrBlock> parse_cidr(std::string_view text, std::string* error) {
  const auto fail = [&](std::string what) -> std::optional<CidrBlock> {
    if (error) *error = "invalid CIDR \"" + std::string(text) + "\": " + std::move(what);
    return std::nullopt;
  };
  const auto slash = text.find('/');
  const std::string_view address_text = text.substr(0, slash);
  const bool v4 = address_text.find(':') == std::string_view::npos;
  if (v4 && !strict_dotted_quad(address_text)) return fail("expected a.b.c.d[/n] or an IPv6 prefix");
  auto address = IpAddress::parse_literal(address_text);
  if (!address || (!v4 && address_text.find('%') != std::string_view::npos)) {
    return fail("expected a.b.c.d[/n] or an IPv6 prefix");
  }
  const unsigned max_bits = v4 ? 32 : 128;
  unsigned prefix = max_bits;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() ||
        prefix > max_bits) {
      return fail("prefix length must be 0.." + std::to_string(max_bits));
    }
  }
  CidrBlock block;
  block.prefix_bits = v4 ? prefix + 96 : prefix;
  block.network = mask_to_prefix(*address, block.prefix_bits);
  block.text = block.network.to_string() + '/' + std::to_string(prefix);
  return block;
}

const std::vector<SpecialRange>& special_ranges() {
  static const std::vector<SpecialRange> ranges = build_special_ranges();
  return ranges;
}

const SpecialRange* find_special_range(const IpAddress& address) {
  for (const auto& range : special_ranges()) {
    if (range.block.contains(address)) return &range;
  }
  return nullptr;
}

const SpecialRange* find_metadata_range(const IpAddress& address) {
  const SpecialRange* range = find_special_range(address);
  return range != nullptr && range->reason == "ip:metadata" ? range : nullptr;
}

}  // namespace sallyport::blocklist

#include "blocklist/policy.hpp"

#include "blocklist/builtin_feeds.hpp"
#include "blocklist/normalize.hpp"

#include <algorithm>
#include <stdexcept>

namespace sallyport::blocklist {
namespace {

// WHATWG URL: a host whose last label is a number must parse as IPv4 or the URL is invalid, so
// "1.2.3.09" or "evil.0x1g" never reach DNS as names.
bool ends_in_number(std::string_view host) {
  const auto dot = host.rfind('.');
  const auto last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  if (last.empty()) return false;
  if (std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return true;
  }
  if (last.size() >= 2 && last[0] == '0' && last[1] == 'x') {
    return std::all_of(last.begin() + 2, last.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    });
  }
  return false;
}

// Configured names may be written "*.example.com" or ".example.com"; both mean the suffix rule.
std::string_view strip_wildcard(std::string_view name) {
  if (name.starts_with("*.")) name.remove_prefix(2);
  if (name.starts_with(".")) name.remove_prefix(1);
  return name;
}

DomainSet build_name_set(const std::vector<std::string>& names) {
  DomainSet::Builder builder;
  std::string normalized;
  for (const auto& name : names) {
    if (normalize_host_into(strip_wildcard(name), normalized).empty()) builder.add(normalized, 0);
  }
  return std::move(builder).build();
}

std::vector<CidrBlock> build_cidrs(const std::vector<std::string>& texts) {
  std::vector<CidrBlock> blocks;
  for (const auto& text : texts) {
    if (auto block = parse_cidr(text)) blocks.push_back(std::move(*block));
  }
  return blocks;
}

void validate_names(const std::vector<std::string>& names, const char* field,
                    std::vector<std::string>& errors) {
  std::string normalized;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto problem = normalize_host_into(strip_wildcard(names[i]), normalized);
    if (!problem.empty()) {
      errors.push_back(std::string(field) + "[" + std::to_string(i) + "]: \"" + names[i] +
                       "\": " + std::string(problem));
    }
  }
}

void validate_feeds(const std::vector<FeedSource>& feeds, std::vector<std::string>& errors) {
  for (std::size_t i = 0; i < feeds.size(); ++i) {
    const auto& feed = feeds[i];
    const std::string where = "egress.feeds[" + std::to_string(i) + "]";
    const bool name_ok =
        !feed.name.empty() && feed.name.size() <= 64 &&
        std::all_of(feed.name.begin(), feed.name.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                 c == '.';
        });
    if (!name_ok) {
      errors.push_back(where + ".name: \"" + feed.name +
                       "\": expected 1..64 characters of a-z 0-9 . _ - (used in deny reasons)");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (feeds[j].name == feed.name) errors.push_back(where + ".name: duplicate \"" + feed.name + "\"");
    }
    const int sources = !feed.url.empty() + !feed.file.empty() + !feed.builtin.empty();
    if (sources != 1) errors.push_back(where + ": expected exactly one of url, file, builtin");
    if (!feed.builtin.empty() && !builtin_feed_text(feed.builtin)) {
      errors.push_back(where + ".builtin: unknown built-in feed \"" + feed.builtin +
                       "\" (expected \"default\")");
    }
    if (!feed.url.empty() && !feed.url.starts_with("https://") && !feed.url.starts_with("http://")) {
      errors.push_back(where + ".url: expected an http:// or https:// URL");
    }
  }
}

}  // namespace

std::vector<std::string> validate_egress_options(const EgressPolicyOptions& options) {
  std::vector<std::string> errors;
  validate_names(options.allow, "egress.allow", errors);
  validate_names(options.deny, "egress.deny", errors);
  validate_names(options.high_risk_tlds, "egress.high_risk_tlds", errors);
  for (const auto* field : {"egress.allow_cidrs", "egress.deny_cidrs"}) {
    const auto& list = std::string_view(field) == "egress.allow_cidrs" ? options.allow_cidrs
                                                                      : options.deny_cidrs;
    for (std::size_t i = 0; i < list.size(); ++i) {
      std::string error;
      if (!parse_cidr(list[i], &error)) {
        errors.push_back(std::string(field) + "[" + std::to_string(i) + "]: " + error);
      }
    }
  }
  validate_feeds(options.feeds, errors);
  if (options.refresh < std::chrono::seconds(1)) {
    errors.push_back("egress.refresh: expected an interval of at least 1 second");
  }
  return errors;
}

std::shared_ptr<const BlocklistSnapshot> build_blocklist_snapshot(
    const EgressPolicyOptions& options, const std::vector<const ParsedFeed*>& feeds) {
  if (auto errors = validate_egress_options(options); !errors.empty()) {
    std::string joined;
    for (const auto& error : errors) joined += (joined.empty() ? "" : "; ") + error;
    throw std::invalid_argument(joined);
  }
  if (feeds.size() > 0xffff) throw std::invalid_argument("more than 65535 feeds");
  auto snapshot = std::make_shared<BlocklistSnapshot>();
  snapshot->allow_ = build_name_set(options.allow);
  snapshot->deny_ = build_name_set(options.deny);
  snapshot->high_risk_tlds_ = build_name_set(options.high_risk_tlds);
  snapshot->allow_cidrs_ = build_cidrs(options.allow_cidrs);
  snapshot->deny_cidrs_ = build_cidrs(options.deny_cidrs);
  snapshot->bare_ip_allowed_in_allow_cidrs_ = options.bare_ip_allowed_in_allow_cidrs;

  std::size_t names = 0;
  std::size_t bytes = 0;
  for (const ParsedFeed* feed : feeds) {
    names += feed->domain_count();
    for (std::size_t i = 0; i < feed->domain_count(); ++i) bytes += feed->domain(i).size();
  }
  DomainSet::Builder builder;
  builder.reserve(names, bytes);
  for (std::size_t tag = 0; tag < feeds.size(); ++tag) {
    const ParsedFeed& feed = *feeds[tag];
    snapshot->feed_names_.push_back(feed.name);
    snapshot->feed_reasons_.push_back("blocklist:" + feed.name);
    for (std::size_t i = 0; i < feed.domain_count(); ++i) {
      builder.add(feed.domain(i), static_cast<std::uint16_t>(tag));
    }
    for (const auto& ip : feed.ips) {
      snapshot->feed_ips_.push_back({ip, static_cast<std::uint16_t>(tag)});
    }
  }
  snapshot->feed_domains_ = std::move(builder).build();
  auto& ips = snapshot->feed_ips_;
  std::stable_sort(ips.begin(), ips.end(), [](const auto& a, const auto& b) {
    return a.address.bytes < b.address.bytes;
  });
  ips.erase(std::unique(ips.begin(), ips.end(),
                        [](const auto& a, const auto& b) { return a.address.bytes == b.address.bytes; }),
            ips.end());
  ips.shrink_to_fit();
  return snapshot;
}

std::shared_ptr<const EgressPolicy> build_egress_policy(const EgressPolicyOptions& options,
                                                        std::vector<ParsedFeed> feeds) {
  std::vector<const ParsedFeed*> pointers;
  for (const auto& feed : feeds) pointers.push_back(&feed);
  return build_blocklist_snapshot(options, pointers);
}

std::size_t BlocklistSnapshot::memory_bytes() const noexcept {
  return allow_.memory_bytes() + deny_.memory_bytes() + feed_domains_.memory_bytes() +
         high_risk_tlds_.memory_bytes() + feed_ips_.capacity() * sizeof(FeedIp);
}

const CidrBlock* BlocklistSnapshot::find_cidr(const std::vector<CidrBlock>& blocks,
                                              const IpAddress& address,
                                              const std::optional<IpAddress>& embedded) const {
  for (const auto& block : blocks) {
    if (block.contains(address) || (embedded && block.contains(*embedded))) return &block;
  }
  return nullptr;
}

const BlocklistSnapshot::FeedIp* BlocklistSnapshot::find_feed_ip(const IpAddress& address) const {
  const auto it = std::lower_bound(
      feed_ips_.begin(), feed_ips_.end(), address.bytes,
      [](const FeedIp& entry, const std::array<std::uint8_t, 16>& key) { return entry.address.bytes < key; });
  return it != feed_ips_.end() && it->address.bytes == address.bytes ? &*it : nullptr;
}

// Deny reasons shared by literals and resolved addresses, after metadata and allow_cidrs.
std::optional<Decision> BlocklistSnapshot::deny_for_special(
    const IpAddress& address, const std::optional<IpAddress>& embedded) const {
  for (const IpAddress* candidate : {embedded ? &*embedded : nullptr, &address}) {
    if (candidate == nullptr) continue;
    if (const FeedIp* hit = find_feed_ip(*candidate)) {
      return Decision::deny(feed_reasons_[hit->tag], candidate->to_string());
    }
  }
  if (const CidrBlock* block = find_cidr(deny_cidrs_, address, embedded)) {
    return Decision::deny("ip:denied-cidr", block->text);
  }
  for (const IpAddress* candidate : {embedded ? &*embedded : nullptr, &address}) {
    if (candidate == nullptr) continue;
    if (const SpecialRange* range = find_special_range(*candidate)) {
      return Decision::deny(std::string(range->reason), range->block.text);
    }
  }
  return std::nullopt;
}

Decision BlocklistSnapshot::check_address(const IpAddress& address) const {
  const auto embedded = address.is_v4 ? std::nullopt : address.embedded_v4();
  for (const IpAddress* candidate : {&address, embedded ? &*embedded : nullptr}) {
    if (candidate == nullptr) continue;
    if (const SpecialRange* range = find_metadata_range(*candidate)) {
      return Decision::deny("ip:metadata", range->block.text, address.to_string());
    }
  }
  if (const CidrBlock* block = find_cidr(allow_cidrs_, address, embedded)) {
    return Decision::allow("allowlist", block->text, address.to_string());
  }
  if (auto denied = deny_for_special(address, embedded)) {
    denied->detail = address.to_string();
    return *denied;
  }
  return Decision::allow("default", {}, address.to_string());
}

HostCheck BlocklistSnapshot::check_literal(const IpAddress& literal) const {
  HostCheck result;
  result.literal = literal;
  result.normalized_host = literal.to_string();
  const auto embedded = literal.is_v4 ? std::nullopt : literal.embedded_v4();
  for (const IpAddress* candidate : {&literal, embedded ? &*embedded : nullptr}) {
    if (candidate == nullptr) continue;
    if (const SpecialRange* range = find_metadata_range(*candidate)) {
      result.decision = Decision::deny("ip:metadata", range->block.text, result.normalized_host);
      return result;
    }
  }
  if (bare_ip_allowed_in_allow_cidrs_) {
    if (const CidrBlock* block = find_cidr(allow_cidrs_, literal, embedded)) {
      result.decision = Decision::allow("allowlist", block->text, result.normalized_host);
      return result;
    }
  }
  if (auto denied = deny_for_special(literal, embedded)) {
    result.decision = std::move(*denied);
  } else {
    result.decision = Decision::deny("ip:literal");
  }
  result.decision.detail = result.normalized_host;
  return result;
}

HostCheck BlocklistSnapshot::check_host(std::string_view host) const {
  if (auto literal = IpAddress::parse_literal(host)) return check_literal(*literal);
  HostCheck result;
  const auto problem = normalize_host_into(host, result.normalized_host);
  if (!problem.empty()) {
    result.normalized_host.clear();
    result.decision = Decision::deny("host:invalid", {}, std::string(problem));
    return result;
  }
  // IDNA maps full-width digits and ideographic dots, so a literal can appear only now.
  if (auto literal = IpAddress::parse_literal(result.normalized_host)) return check_literal(*literal);
  if (ends_in_number(result.normalized_host)) {
    result.decision = Decision::deny("host:invalid", {}, "ends in a number but is not an IPv4 address");
    return result;
  }
  const HostSuffixes name(result.normalized_host);  // hashed once for all four sets
  if (auto match = allow_.find(name)) {
    result.decision = Decision::allow("allowlist", std::string(match->rule));
  } else if (auto denied = deny_.find(name)) {
    result.decision = Decision::deny("denylist", std::string(denied->rule));
  } else if (auto listed = feed_domains_.find(name)) {
    result.decision = Decision::deny(feed_reasons_[listed->tag], std::string(listed->rule));
  } else if (auto tld = high_risk_tlds_.find(name)) {
    result.decision = Decision::deny("tld:high-risk", std::string(tld->rule));
  } else {
    result.decision = Decision::allow("default");
  }
  return result;
}

}  // namespace sallyport::blocklist

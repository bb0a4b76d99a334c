#pragma once
// The concrete EgressPolicy: one immutable snapshot built from the options and the parsed feeds.
// The evaluation order is documented once, in blocklist/egress_policy.hpp.
#include "blocklist/cidr.hpp"
#include "blocklist/domain_set.hpp"
#include "blocklist/egress_policy.hpp"
#include "blocklist/feed_parser.hpp"

#include <memory>
#include <string>
#include <vector>

namespace sallyport::blocklist {

// Every problem in `options` (invalid domains, CIDRs, feed names/sources, refresh interval), each
// message naming the field and index ("egress.allow_cidrs[2]: invalid CIDR ..."). Empty = valid.
std::vector<std::string> validate_egress_options(const EgressPolicyOptions& options);

class BlocklistSnapshot final : public EgressPolicy {
 public:
  // Use build_blocklist_snapshot(); public for make_shared.
  BlocklistSnapshot() = default;

  HostCheck check_host(std::string_view host) const override;
  Decision check_address(const IpAddress& address) const override;

  // The feed matcher alone (no normalisation, allowlist or TLDs): the benchmarked hot path.
  // `normalized_host` must come from normalize_host_into.
  std::optional<DomainSet::Match> match_feeds(std::string_view normalized_host) const noexcept {
    return feed_domains_.find(normalized_host);
  }
  const std::string& feed_name(std::uint16_t tag) const { return feed_names_.at(tag); }

  std::size_t domain_count() const noexcept { return feed_domains_.size(); }  // unique, all feeds
  std::size_t ip_count() const noexcept { return feed_ips_.size(); }
  std::size_t memory_bytes() const noexcept;

 private:
  friend std::shared_ptr<const BlocklistSnapshot> build_blocklist_snapshot(
      const EgressPolicyOptions&, const std::vector<const ParsedFeed*>&);

  struct FeedIp {
    IpAddress address;
    std::uint16_t tag = 0;
  };
  HostCheck check_literal(const IpAddress& literal) const;
  const CidrBlock* find_cidr(const std::vector<CidrBlock>& blocks, const IpAddress& address,
                             const std::optional<IpAddress>& embedded) const;
  const FeedIp* find_feed_ip(const IpAddress& address) const;
  std::optional<Decision> deny_for_special(const IpAddress& address,
                                           const std::optional<IpAddress>& embedded) const;

  DomainSet allow_;
  DomainSet deny_;
  DomainSet feed_domains_;
  DomainSet high_risk_tlds_;
  std::vector<FeedIp> feed_ips_;  // sorted by address bytes
  std::vector<std::string> feed_names_;
  std::vector<std::string> feed_reasons_;  // "blocklist:<name>", built once
  std::vector<CidrBlock> allow_cidrs_;
  std::vector<CidrBlock> deny_cidrs_;
  bool bare_ip_allowed_in_allow_cidrs_ = false;
};

// Builds a snapshot. Throws std::invalid_argument (all validate_egress_options messages joined
// with "; ") when the options are invalid: a start-up/config-reload failure, never the data path.
// Feeds keep their order: a domain listed by several feeds is attributed to the first.
std::shared_ptr<const BlocklistSnapshot> build_blocklist_snapshot(
    const EgressPolicyOptions& options, const std::vector<const ParsedFeed*>& feeds);

std::shared_ptr<const EgressPolicy> build_egress_policy(const EgressPolicyOptions& options,
                                                        std::vector<ParsedFeed> feeds);

}  // namespace sallyport::blocklist

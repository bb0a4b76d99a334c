// BlocklistSnapshot::check_host / check_address: the evaluation order and the exact reasons.
#include "blocklist/policy.hpp"

#include <gtest/gtest.h>

namespace sallyport::blocklist {
namespace {

ParsedFeed feed(const char* name, const char* text) { return parse_feed(name, text); }

EgressPolicyOptions base_options() {
  EgressPolicyOptions options;
  options.allow = {"good.evil.com", "*.partner.tk"};
  options.deny = {"pastebin.com"};
  options.allow_cidrs = {"198.51.100.0/24", "169.254.169.254/32", "10.20.0.0/16"};
  options.deny_cidrs = {"203.0.113.128/25"};
  return options;
}

std::shared_ptr<const EgressPolicy> make_policy(EgressPolicyOptions options = base_options()) {
  std::vector<ParsedFeed> feeds;
  feeds.push_back(feed("oisd", "evil.com\nads.example.org\nshared.net\n"));
  feeds.push_back(feed("urlhaus", "0.0.0.0 malware.example.net\n0.0.0.0 shared.net\n"
                                  "0.0.0.0 good.evil.com\n"));
  feeds.push_back(feed("c2", "203.0.113.66\n"));
  return build_egress_policy(options, std::move(feeds));
}

struct HostCase {
  const char* host;
  const char* reason;
  const char* rule;
  bool allowed;
};

TEST(Policy, HostDecisionsFollowTheDocumentedOrder) {
  const auto policy = make_policy();
  const HostCase cases[] = {
      {"www.example.com", "default", "", true},
      {"EVIL.com.", "blocklist:oisd", "evil.com", false},
      {"a.b.evil.com", "blocklist:oisd", "evil.com", false},
      {"notevil.com", "default", "", true},
      {"good.evil.com", "allowlist", "good.evil.com", true},     // allowlist beats both feeds
      {"x.good.evil.com", "allowlist", "good.evil.com", true},
      {"malware.example.net", "blocklist:urlhaus", "malware.example.net", false},
      {"shared.net", "blocklist:oisd", "shared.net", false},     // first feed wins provenance
      {"pastebin.com", "denylist", "pastebin.com", false},
      {"free.tk", "tld:high-risk", "tk", false},
      {"api.partner.tk", "allowlist", "partner.tk", true},
      {"x.gq", "tld:high-risk", "gq", false},
      {"bad host", "host:invalid", "", false},
      {"evil.com/path", "host:invalid", "", false},
      {"", "host:invalid", "", false},
      {"a\r\nb.com", "host:invalid", "", false},
  };
  for (const auto& c : cases) {
    const HostCheck check = policy->check_host(c.host);
    EXPECT_EQ(check.decision.reason, c.reason) << c.host;
    EXPECT_EQ(check.decision.rule, c.rule) << c.host;
    EXPECT_EQ(check.decision.allowed(), c.allowed) << c.host;
    EXPECT_FALSE(check.literal.has_value()) << c.host;
  }
  EXPECT_EQ(policy->check_host("Bücher.DE.").normalized_host, "xn--bcher-kva.de");
}

TEST(Policy, BareIpLiteralsAreDeniedUnlessAllowedCidrsOptIn) {
  auto options = base_options();
  const auto deny_all = make_policy(options);
  EXPECT_EQ(deny_all->check_host("198.51.100.7").decision.reason, "ip:literal");
  EXPECT_EQ(deny_all->check_host("203.0.113.66").decision.reason, "blocklist:c2");
  EXPECT_EQ(deny_all->check_host("203.0.113.200").decision.reason, "ip:denied-cidr");
  EXPECT_EQ(deny_all->check_host("10.20.1.1").decision.reason, "ip:private");

  options.bare_ip_allowed_in_allow_cidrs = true;
  const auto allow_cidrs = make_policy(options);
  const HostCheck allowed = allow_cidrs->check_host("198.51.100.7");
  EXPECT_TRUE(allowed.decision.allowed());
  EXPECT_EQ(allowed.decision.reason, "allowlist");
  EXPECT_EQ(allowed.decision.rule, "198.51.100.0/24");
  EXPECT_EQ(allow_cidrs->check_host("0xc6336407").decision.reason, "allowlist");  // hex spelling
  EXPECT_EQ(allow_cidrs->check_host("10.20.1.1").decision.reason, "allowlist");
  EXPECT_EQ(allow_cidrs->check_host("192.0.2.1").decision.reason, "ip:literal");
  // Metadata can never be allowed, even when allow_cidrs lists it exactly.
  EXPECT_EQ(allow_cidrs->check_host("169.254.169.254").decision.reason, "ip:metadata");
  EXPECT_EQ(allow_cidrs->check_host("[::ffff:a9fe:a9fe]").decision.reason, "ip:metadata");
}

TEST(Policy, ResolvedAddressesAreCheckedAgainstDenySetsAndAllowCidrs) {
  const auto policy = make_policy();
  const auto check = [&](const char* text) {
    return policy->check_address(*IpAddress::parse_literal(text));
  };
  EXPECT_EQ(check("198.51.100.7").reason, "allowlist");
  EXPECT_EQ(check("192.0.2.1").reason, "default");
  EXPECT_EQ(check("169.254.169.254").reason, "ip:metadata");  // despite allow_cidrs
  EXPECT_EQ(check("::ffff:169.254.169.254").reason, "ip:metadata");
  EXPECT_EQ(check("64:ff9b::a9fe:a9fe").reason, "ip:metadata");
  EXPECT_EQ(check("10.20.3.4").reason, "allowlist");           // allow_cidrs opens private space
  EXPECT_EQ(check("10.30.3.4").reason, "ip:private");
  EXPECT_EQ(check("203.0.113.66").reason, "blocklist:c2");
  EXPECT_EQ(check("::ffff:203.0.113.66").reason, "blocklist:c2");
  EXPECT_EQ(check("203.0.113.129").reason, "ip:denied-cidr");
  EXPECT_EQ(check("2001:db8::1").reason, "default");
  const Decision metadata = check("fd00:ec2::254");
  EXPECT_EQ(metadata.rule, "fd00:ec2::254/128");
  EXPECT_EQ(metadata.detail, "fd00:ec2::254");
}

TEST(Policy, ConfiguredHighRiskTldsReplaceTheDefaults) {
  auto options = base_options();
  options.high_risk_tlds = {"zip", ".mov"};
  const auto policy = make_policy(options);
  EXPECT_EQ(policy->check_host("free.tk").decision.reason, "default");
  EXPECT_EQ(policy->check_host("x.zip").decision.reason, "tld:high-risk");
  EXPECT_EQ(policy->check_host("x.mov").decision.reason, "tld:high-risk");
}

TEST(Policy, InvalidOptionsAreReportedWithTheirField) {
  EgressPolicyOptions options;
  options.allow = {"ok.com", "bad host"};
  options.allow_cidrs = {"10.0.0.0/40"};
  options.feeds = {FeedSource{"Bad Name", "", "", "default", FeedFormat::auto_detect},
                   FeedSource{"two", "ftp://x", "/tmp/x", "", FeedFormat::auto_detect},
                   FeedSource{"three", "", "", "nosuch", FeedFormat::auto_detect}};
  const auto errors = validate_egress_options(options);
  ASSERT_EQ(errors.size(), 6u);
  EXPECT_NE(errors[5].find("egress.feeds[2].builtin: unknown built-in feed"), std::string::npos);
  EXPECT_NE(errors[0].find("egress.allow[1]"), std::string::npos);
  EXPECT_NE(errors[1].find("egress.allow_cidrs[0]"), std::string::npos);
  EXPECT_NE(errors[2].find("egress.feeds[0].name"), std::string::npos);
  EXPECT_NE(errors[3].find("exactly one of url, file, builtin"), std::string::npos);
  EXPECT_NE(errors[4].find("egress.feeds[1].url"), std::string::npos);
  EXPECT_THROW(build_egress_policy(options, {}), std::invalid_argument);
}

}  // namespace
}  // namespace sallyport::blocklist

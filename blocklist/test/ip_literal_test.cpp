// Every IP literal spelling a URL parser or inet_aton accepts, and the deny reason it gets.
#include "blocklist/cidr.hpp"
#include "blocklist/policy.hpp"

#include <gtest/gtest.h>

namespace sallyport::blocklist {
namespace {

std::shared_ptr<const EgressPolicy> default_policy() {
  static const auto policy = build_egress_policy(EgressPolicyOptions{}, {});
  return policy;
}

struct SpellingCase {
  const char* text;
  const char* canonical;  // IpAddress::to_string of the parsed literal
};

TEST(IpLiteral, EveryMetadataSpellingParsesToTheSameAddress) {
  const SpellingCase cases[] = {
      {"169.254.169.254", "169.254.169.254"},
      {"2852039166", "169.254.169.254"},               // decimal
      {"0251.0376.0251.0376", "169.254.169.254"},      // octal
      {"0xa9fea9fe", "169.254.169.254"},               // hex
      {"0XA9FEA9FE", "169.254.169.254"},
      {"0xA9.0xFE.0xA9.0xFE", "169.254.169.254"},      // hex per part
      {"0xa9.254.0251.0xfe", "169.254.169.254"},       // mixed radices
      {"169.254.43518", "169.254.169.254"},            // a.b.c16
      {"169.16689662", "169.254.169.254"},             // a.b24
      {"0251.0xfe.43518", "169.254.169.254"},
      {"00000251.0376.0251.0376", "169.254.169.254"},  // extra leading zeros
      {"169.254.169.254.", "169.254.169.254"},         // URL parsers drop one trailing dot
  };
  for (const auto& c : cases) {
    const auto parsed = IpAddress::parse_literal(c.text);
    ASSERT_TRUE(parsed.has_value()) << c.text;
    EXPECT_TRUE(parsed->is_v4) << c.text;
    EXPECT_EQ(parsed->to_string(), c.canonical) << c.text;
  }
}

TEST(IpLiteral, RejectsWhatIsNotALiteral) {
  for (const char* text : {"", "example.com", "1.2.3.4.5", "256.1.1.1", "1.2.3.256", "1.2.65536",
                           "1.16777216", "4294967296", "08.1.1.1", "0xg1", "1..2.3", ".1.2.3",
                           "1.2.3.4..", "[1.2.3.4]", "[::1", "::1]", "fe80::1%", "1.2.3.4:80",
                           "99999999999999999999999", "::ffff:0251.0376.0251.0376", "1 .2.3.4"}) {
    EXPECT_FALSE(IpAddress::parse_literal(text).has_value()) << text;
  }
  using namespace std::string_view_literals;
  EXPECT_FALSE(IpAddress::parse_literal("::1\0junk"sv).has_value());  // inet_pton stops at NUL
  EXPECT_FALSE(IpAddress::parse_literal("1.2.3.4\0"sv).has_value());
  EXPECT_FALSE(IpAddress::parse_literal("::g"sv).has_value());
}

TEST(IpLiteral, Ipv6FormsAndTheirEmbeddedV4) {
  const struct {
    const char* text;
    const char* canonical;
    const char* embedded;  // nullptr: no embedded IPv4
  } cases[] = {
      {"::ffff:a9fe:a9fe", "::ffff:169.254.169.254", "169.254.169.254"},       // v4-mapped
      {"::ffff:169.254.169.254", "::ffff:169.254.169.254", "169.254.169.254"},
      {"[::ffff:169.254.169.254]", "::ffff:169.254.169.254", "169.254.169.254"},
      {"::a9fe:a9fe", "::169.254.169.254", "169.254.169.254"},                // v4-compatible
      {"64:ff9b::a9fe:a9fe", "64:ff9b::a9fe:a9fe", "169.254.169.254"},        // NAT64
      {"2002:a9fe:a9fe::1", "2002:a9fe:a9fe::1", "169.254.169.254"},          // 6to4
      {"2001:0:4136:e378:8000:63bf:5601:5601", "2001:0:4136:e378:8000:63bf:5601:5601",
       "169.254.169.254"},  // Teredo: client 0x5601_5601 bit-inverted
      {"::ffff:0:a9fe:a9fe", "::ffff:0:a9fe:a9fe", "169.254.169.254"},        // SIIT
      {"fe80::1%eth0", "fe80::1", nullptr},
      {"[fe80::1%25eth0]", "fe80::1", nullptr},
      {"FD00:EC2::254", "fd00:ec2::254", nullptr},
      {"::1", "::1", nullptr},
      {"::", "::", nullptr},
  };
  for (const auto& c : cases) {
    const auto parsed = IpAddress::parse_literal(c.text);
    ASSERT_TRUE(parsed.has_value()) << c.text;
    EXPECT_FALSE(parsed->is_v4) << c.text;
    EXPECT_EQ(parsed->to_string(), c.canonical) << c.text;
    const auto embedded = parsed->embedded_v4();
    if (c.embedded == nullptr) {
      EXPECT_FALSE(embedded.has_value()) << c.text;
    } else {
      ASSERT_TRUE(embedded.has_value()) << c.text;
      EXPECT_EQ(embedded->to_string(), c.embedded) << c.text;
    }
  }
}

TEST(IpLiteral, EveryMetadataSpellingIsDeniedAsMetadataByCheckHost) {
  for (const char* text :
       {"169.254.169.254", "2852039166", "0251.0376.0251.0376", "0xa9fea9fe", "0xA9.0xFE.0xA9.0xFE",
        "0xa9.254.0251.0xfe", "169.254.43518", "169.16689662", "169.254.169.254.",
        "::ffff:a9fe:a9fe", "::ffff:169.254.169.254", "[::ffff:169.254.169.254]", "::a9fe:a9fe",
        "[::a9fe:a9fe]", "64:ff9b::a9fe:a9fe", "64:ff9b::169.254.169.254", "2002:a9fe:a9fe::",
        "2001:0:4136:e378:8000:63bf:5601:5601", "[fd00:ec2::254]", "fd00:ec2::254%eth0",
        "[fd00:ec2::254%25eth0]", "169.254.170.2", "168.63.129.16", "0xa83f8110",
        "100.100.100.200", "[::ffff:100.100.100.200]",
        "\xEF\xBC\x91\xEF\xBC\x96\xEF\xBC\x99.254.169.254",  // full-width "169" (IDNA maps it)
        "169\xE3\x80\x82" "254.169.254"}) {                    // ideographic full stop
    const HostCheck check = default_policy()->check_host(text);
    EXPECT_EQ(check.decision.reason, "ip:metadata") << text;
    EXPECT_FALSE(check.decision.allowed()) << text;
    EXPECT_TRUE(check.literal.has_value()) << text;
  }
}

TEST(IpLiteral, SpecialRangesGetTheirOwnReasonAsLiteralsAndAsResolvedAddresses) {
  const struct {
    const char* text;
    const char* reason;
  } cases[] = {
      {"127.0.0.1", "ip:loopback"},       {"0x7f000001", "ip:loopback"},
      {"2130706433", "ip:loopback"},      {"127.1", "ip:loopback"},
      {"::1", "ip:loopback"},             {"::ffff:127.0.0.1", "ip:loopback"},
      {"10.1.2.3", "ip:private"},         {"172.16.0.1", "ip:private"},
      {"192.168.1.1", "ip:private"},      {"fd12:3456::1", "ip:private"},
      {"2002:c0a8:0101::1", "ip:private"},  // 6to4 of 192.168.1.1
      {"64:ff9b::10.0.0.1", "ip:private"},
      {"169.254.1.1", "ip:link-local"},   {"fe80::1%eth0", "ip:link-local"},
      {"100.64.0.1", "ip:cgnat"},         {"224.0.0.1", "ip:multicast"},
      {"ff02::1", "ip:multicast"},        {"0.0.0.0", "ip:unspecified"},
      {"0", "ip:unspecified"},            {"::", "ip:unspecified"},
      {"255.255.255.255", "ip:broadcast"}, {"192.0.0.8", "ip:reserved"},
      {"198.18.0.1", "ip:reserved"},      {"240.0.0.1", "ip:reserved"},
  };
  for (const auto& c : cases) {
    const HostCheck check = default_policy()->check_host(c.text);
    EXPECT_EQ(check.decision.reason, c.reason) << c.text;
    ASSERT_TRUE(check.literal.has_value()) << c.text;
    const Decision as_address = default_policy()->check_address(*check.literal);
    EXPECT_EQ(as_address.reason, c.reason) << c.text;
    EXPECT_FALSE(as_address.allowed()) << c.text;
  }
}

TEST(IpLiteral, DocumentationRangesAreReachableAddressesButBareLiteralsAreDenied) {
  for (const char* text : {"192.0.2.10", "198.51.100.7", "203.0.113.66", "2001:db8::1",
                           "8.8.8.8", "2606:4700::1111"}) {
    const HostCheck check = default_policy()->check_host(text);
    EXPECT_EQ(check.decision.reason, "ip:literal") << text;
    ASSERT_TRUE(check.literal.has_value());
    const Decision as_address = default_policy()->check_address(*check.literal);
    EXPECT_TRUE(as_address.allowed()) << text;
    EXPECT_EQ(as_address.reason, "default") << text;
  }
}

TEST(IpLiteral, HostsThatEndInANumberButAreNotIpv4AreInvalid) {
  for (const char* text : {"1.2.3.09", "1.2.3.4.5", "evil.0x1f", "a.b.256.1.1.1", "300.1.1.1"}) {
    EXPECT_EQ(default_policy()->check_host(text).decision.reason, "host:invalid") << text;
  }
  EXPECT_EQ(default_policy()->check_host("evil.0x1g").decision.reason, "default");
}

TEST(Cidr, ParsesMasksAndMatchesBothFamilies) {
  const auto v4 = parse_cidr("10.1.2.3/8");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->text, "10.0.0.0/8");
  EXPECT_TRUE(v4->contains(*IpAddress::parse_literal("10.255.0.1")));
  EXPECT_TRUE(v4->contains(*IpAddress::parse_literal("::ffff:10.0.0.1")));
  EXPECT_FALSE(v4->contains(*IpAddress::parse_literal("11.0.0.1")));
  const auto v6 = parse_cidr("fd00::/8");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains(*IpAddress::parse_literal("fd12::1")));
  EXPECT_FALSE(v6->contains(*IpAddress::parse_literal("fe12::1")));
  std::string error;
  for (const char* bad : {"10.0.0.0/33", "0xa.0.0.0/8", "10/8", "fd00::/129", "x", "10.0.0.0/",
                          "10.0.0.0/8x", "fe80::1%eth0/64"}) {
    EXPECT_FALSE(parse_cidr(bad, &error)) << bad;
    EXPECT_NE(error.find("invalid CIDR"), std::string::npos);
  }
}

}  // namespace
}  // namespace sallyport::blocklist

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "bpf/guard_types.hpp"

namespace sallyport::bpf {
namespace {

TEST(ParseGuardPrefix, Ipv4IsStoredV4MappedWithOffsetPrefix) {
  auto key = parse_guard_prefix("169.254.169.254");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key.value().prefixlen, 128u);
  const std::uint8_t expected[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 169, 254, 169, 254};
  EXPECT_EQ(0, std::memcmp(key.value().addr, expected, 16));
  EXPECT_EQ(format_guard_prefix(key.value()), "169.254.169.254/32");
}

TEST(ParseGuardPrefix, V4MappedV6TextLandsOnTheSameKeyAsIpv4) {
  auto v4 = parse_guard_prefix("10.0.0.53/32");
  auto mapped = parse_guard_prefix("::ffff:10.0.0.53/128");
  ASSERT_TRUE(v4.ok() && mapped.ok());
  EXPECT_EQ(0, std::memcmp(&v4.value(), &mapped.value(), sizeof(guard_lpm_key)));
}

TEST(ParseGuardPrefix, ClearsHostBitsAndFormatsBack) {
  auto key = parse_guard_prefix("198.51.100.77/24");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key.value().prefixlen, 96u + 24u);
  EXPECT_EQ(format_guard_prefix(key.value()), "198.51.100.0/24");
  auto v6 = parse_guard_prefix("fd00:ec2::254");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(format_guard_prefix(v6.value()), "fd00:ec2::254/128");
}

TEST(ParseGuardPrefix, RejectsGarbageWithAClearMessage) {
  for (const char* bad : {"", "example.com", "1.2.3.4/33", "1.2.3.4/", "1.2.3.4/x", "::1/129",
                          "0x7f.1", "1.2.3.4/24/1"}) {
    auto key = parse_guard_prefix(bad);
    EXPECT_FALSE(key.ok()) << bad;
    if (!key.ok()) {
      EXPECT_NE(key.error().message.find("expected"), std::string::npos) << bad;
    }
  }
}

TEST(GuardNames, ModesAndReasonsAreStableLabels) {
  EXPECT_EQ(parse_guard_mode("observe"), GuardMode::observe);
  EXPECT_FALSE(parse_guard_mode("Enforce").has_value());
  EXPECT_STREQ(to_string(GuardMode::enforce), "enforce");
  EXPECT_STREQ(guard_reason_name(GUARD_REASON_METADATA), "metadata");
  EXPECT_STREQ(guard_reason_name(GUARD_REASON_DNS_NOT_RESOLVER), "dns-not-resolver");
  EXPECT_STREQ(guard_reason_name(GUARD_REASON_MAX), "unknown");
  EXPECT_STREQ(guard_hook_name(GUARD_HOOK_SKB_EGRESS), "skb_egress");
}

TEST(DefaultMetadata, CoversTheKnownServicesInBothFamilies) {
  const auto& prefixes = default_metadata_prefixes();
  for (const char* want : {"169.254.169.254/32", "169.254.170.2/32", "168.63.129.16/32",
                           "100.100.100.200/32", "fd00:ec2::254/128"}) {
    EXPECT_NE(std::find(prefixes.begin(), prefixes.end(), want), prefixes.end()) << want;
  }
  for (const auto& p : prefixes) EXPECT_TRUE(parse_guard_prefix(p).ok()) << p;
}

}  // namespace
}  // namespace sallyport::bpf

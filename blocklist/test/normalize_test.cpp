#include "blocklist/normalize.hpp"

#include <gtest/gtest.h>

namespace sallyport::blocklist {
namespace {

TEST(Normalize, LowerCasesAndStripsOneTrailingDot) {
  EXPECT_EQ(normalize_host("WWW.Example.COM").host, "www.example.com");
  EXPECT_EQ(normalize_host("example.com.").host, "example.com");
  EXPECT_FALSE(normalize_host("example.com..").ok());
  EXPECT_FALSE(normalize_host(".").ok());
}

TEST(Normalize, IdnaToALabel) {
  EXPECT_EQ(normalize_host("bücher.de").host, "xn--bcher-kva.de");
  EXPECT_EQ(normalize_host("BÜCHER.DE").host, "xn--bcher-kva.de");  // UTS#46 maps case
  EXPECT_EQ(normalize_host("bücher.de.").host, "xn--bcher-kva.de");
  EXPECT_EQ(normalize_host("xn--bcher-kva.de").host, "xn--bcher-kva.de");
  EXPECT_EQ(normalize_host("faß.de").host, "xn--fa-hia.de");  // non-transitional: ß kept
  EXPECT_EQ(normalize_host("例え.テスト").host, "xn--r8jz45g.xn--zckzah");
  EXPECT_EQ(normalize_host("bücher\xE3\x80\x82" "de").host, "xn--bcher-kva.de");  // "。"
}

TEST(Normalize, RejectsInvalidCharactersAndLabels) {
  for (const char* bad : {"", "exa mple.com", "a..b", ".a.b", "evil.com/path", "evil.com:443",
                          "a\tb.com", "a\nb.com", "a\rb.com", "ev\x01il.com", "ev%il.com",
                          "user@evil.com", "*.evil.com", "ev\"il.com", "\xff\xfe.com",
                          "bü\x01" "cher.de"}) {
    const auto result = normalize_host(bad);
    EXPECT_FALSE(result.ok()) << bad;
    EXPECT_TRUE(result.host.empty()) << bad;
  }
}

TEST(Normalize, EnforcesLengthLimits) {
  const std::string label63(63, 'a');
  const std::string label64(64, 'a');
  EXPECT_TRUE(normalize_host(label63 + ".com").ok());
  EXPECT_EQ(normalize_host(label64 + ".com").error, "label longer than 63 characters");
  std::string name253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
  ASSERT_EQ(name253.size(), 253u);
  EXPECT_TRUE(normalize_host(name253).ok());
  EXPECT_TRUE(normalize_host(name253 + ".").ok());  // the trailing dot does not count
  EXPECT_FALSE(normalize_host(name253 + "b").ok());
}

TEST(Normalize, AcceptsUnderscoreDigitsAndRegisteredALabelsLikeRealFeeds) {
  EXPECT_EQ(normalize_host("XN--RIHY934P.ws").host, "xn--rihy934p.ws");  // emoji name in OISD
  EXPECT_EQ(normalize_host("_dmarc.Example.com").host, "_dmarc.example.com");
  EXPECT_EQ(normalize_host("0-02.net").host, "0-02.net");
}

}  // namespace
}  // namespace sallyport::blocklist

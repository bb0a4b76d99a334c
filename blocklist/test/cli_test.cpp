#include "blocklist/cli.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace sallyport::blocklist {
namespace {

std::shared_ptr<const EgressPolicy> policy() {
  static const auto p = [] {
    std::vector<ParsedFeed> feeds;
    feeds.push_back(parse_feed("oisd", "evil.com\n"));
    return build_egress_policy(EgressPolicyOptions{}, std::move(feeds));
  }();
  return p;
}

TEST(Cli, CheckPrintsDecisionReasonRuleAndExitCode) {
  std::ostringstream out;
  EXPECT_EQ(print_blocklist_check(*policy(), "A.B.Evil.COM.", out), 1);
  EXPECT_NE(out.str().find("normalized: a.b.evil.com\n"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("decision:   deny\n"), std::string::npos);
  EXPECT_NE(out.str().find("reason:     blocklist:oisd\n"), std::string::npos);
  EXPECT_NE(out.str().find("rule:       evil.com\n"), std::string::npos);

  std::ostringstream allowed;
  EXPECT_EQ(print_blocklist_check(*policy(), "https://user@api.openai.com:443/v1", allowed), 0);
  EXPECT_NE(allowed.str().find("normalized: api.openai.com\n"), std::string::npos) << allowed.str();
  EXPECT_NE(allowed.str().find("reason:     default\n"), std::string::npos);
}

TEST(Cli, CheckOfAnIpLiteralShowsBothVerdicts) {
  std::ostringstream out;
  EXPECT_EQ(print_blocklist_check(*policy(), "0251.0376.0251.0376", out), 1);
  EXPECT_NE(out.str().find("normalized: 169.254.169.254\n"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("reason:     ip:metadata\n"), std::string::npos);
  EXPECT_NE(out.str().find("as resolved address: deny (ip:metadata, 169.254.169.254/32)"),
            std::string::npos);
  std::ostringstream doc;
  EXPECT_EQ(print_blocklist_check(*policy(), "http://[2001:db8::1]:8080/", doc), 1);
  EXPECT_NE(doc.str().find("reason:     ip:literal\n"), std::string::npos) << doc.str();
  EXPECT_NE(doc.str().find("as resolved address: allow (default)"), std::string::npos);
}

TEST(Cli, InvalidInputExitsWithTwoAndEscapesIt) {
  std::ostringstream out;
  EXPECT_EQ(print_blocklist_check(*policy(), "bad\nhost", out), 2);
  EXPECT_NE(out.str().find("target:     bad\\nhost\n"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("reason:     host:invalid\n"), std::string::npos);
  std::ostringstream empty;
  EXPECT_EQ(print_blocklist_check(*policy(), "", empty), 2);
}

TEST(Cli, StatsPrintsPerFeedCountsAndErrors) {
  EgressPolicyOptions options;
  options.feeds = {FeedSource{"default", "", "", "default", FeedFormat::auto_detect},
                   FeedSource{"missing", "", "/nonexistent/blocklist.txt", "", FeedFormat::domains}};
  BlocklistStore store(options);
  store.load();
  std::ostringstream out;
  EXPECT_EQ(print_blocklist_stats(store, out), 1);  // not ready: one feed never loaded
  const std::string text = out.str();
  EXPECT_NE(text.find("feed default (builtin:default)"), std::string::npos) << text;
  EXPECT_NE(text.find("  domains:       303\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  ips:           21\n"), std::string::npos) << text;
  EXPECT_NE(text.find("feed missing (file:/nonexistent/blocklist.txt)"), std::string::npos);
  EXPECT_NE(text.find("last error:    cannot open /nonexistent/blocklist.txt"), std::string::npos);
  EXPECT_NE(text.find("total: 303 unique domains, 21 IPs"), std::string::npos) << text;
  EXPECT_NE(text.find("ready no"), std::string::npos);
}

}  // namespace
}  // namespace sallyport::blocklist

// Parsers on synthetic edge cases and on the real feed copies in ../shared/data, whose counts are
// checked against an independent grep/awk count of the same file.
#include "blocklist/feed_parser.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace sallyport::blocklist {
namespace {

using test::read_file;
using test::shared_data;
using test::shell_count;

std::vector<std::string> domains_of(const ParsedFeed& feed) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < feed.domain_count(); ++i) names.emplace_back(feed.domain(i));
  return names;
}

TEST(FeedParser, DomainsToleratesBomCrlfCommentsBlanksAndJunk) {
  const std::string text =
      "\xEF\xBB\xBF# header\r\n"
      "Example.COM\r\n"
      "\r\n"
      "! abp-style comment\n"
      "   \t\n"
      "b\xC3\xBC" "cher.de.\n"
      "bad host name\n"          // line 7: junk
      "1.0.209.238\n"            // bare IP -> ips
      "*.wild.example.org\n"
      "ok.net   # trailing comment\n"
      "exa$mple.com\n"           // line 11: junk
      "last.org";                // no final newline
  const ParsedFeed feed = parse_feed("t", text, FeedFormat::domains);
  EXPECT_EQ(domains_of(feed), (std::vector<std::string>{"example.com", "xn--bcher-kva.de",
                                                        "wild.example.org", "ok.net", "last.org"}));
  ASSERT_EQ(feed.ips.size(), 1u);
  EXPECT_EQ(feed.ips[0].to_string(), "1.0.209.238");
  EXPECT_EQ(feed.parse_errors, 2u);
  ASSERT_EQ(feed.first_errors.size(), 2u);
  EXPECT_EQ(feed.first_errors[0].line, 7u);
  EXPECT_EQ(feed.first_errors[1].line, 11u);
  EXPECT_NE(feed.first_errors[1].message.find("exa$mple.com"), std::string::npos);
  EXPECT_EQ(feed.lines, 12u);
}

TEST(FeedParser, KeepsOnlyTheFirstFewErrorMessagesButCountsAll) {
  std::string text;
  for (int i = 0; i < 50; ++i) text += "not a domain\n";
  const ParsedFeed feed = parse_feed("t", text, FeedFormat::domains);
  EXPECT_EQ(feed.parse_errors, 50u);
  EXPECT_EQ(feed.first_errors.size(), kMaxReportedIssues);
  EXPECT_DOUBLE_EQ(feed.error_ratio(), 1.0);
}

TEST(FeedParser, HostsFileSinksTabsSeveralNamesPreambleAndInlineComments) {
  const std::string text =
      "127.0.0.1 localhost\n"
      "127.0.0.1\tlocalhost.localdomain\n"
      "255.255.255.255 broadcasthost\n"
      "::1 localhost ip6-localhost\n"
      "fe80::1%lo0 localhost\n"
      "ff02::1 ip6-allnodes\n"
      "0.0.0.0 0.0.0.0\n"
      "0.0.0.0 a.com  b.com\tc.com # three on one line\n"
      "127.0.0.1\tTAB.example.net\n"
      "  # indented comment\n"
      "192.168.1.10 printer.lan\n"   // a real mapping, not a block
      "0.0.0.0\n"                    // junk: no host
      "justaname.com\n";             // junk: no address
  const ParsedFeed feed = parse_feed("t", text, FeedFormat::hosts);
  EXPECT_EQ(domains_of(feed),
            (std::vector<std::string>{"a.com", "b.com", "c.com", "tab.example.net"}));
  EXPECT_TRUE(feed.ips.empty());
  EXPECT_EQ(feed.parse_errors, 2u);
  EXPECT_EQ(feed.skipped, 9u);
}

TEST(FeedParser, AbpDomainRulesAndCountedUnsupportedRules) {
  const std::string text =
      "[Adblock Plus 2.0]\n"
      "! comment\n"
      "||ads.example.com^\n"
      "||tracker.example.org^$all\n"
      "||x.example.net^$important,document\n"
      "||third.example.com^$third-party\n"     // narrowed by option: unsupported
      "||path.example.com/ads.js^\n"           // path rule: unsupported
      "||wild*.example.com^\n"                 // wildcard: unsupported
      "@@||allowed.example.com^\n"             // exception: unsupported
      "example.com##.banner\n"                 // cosmetic: unsupported
      "example.com#@#.banner\n"                // cosmetic exception: unsupported
      "/banner[0-9]+/\n"                       // regex: unsupported
      "|https://evil.example/|\n"              // URL anchor: unsupported
      "||1.2.3.4^\n"                           // IP rule
      "bare-host.example.com\n"                // uBlock Origin host syntax
      "||^\n";                                 // junk
  const ParsedFeed feed = parse_feed("t", text);
  EXPECT_EQ(feed.format, FeedFormat::abp);
  EXPECT_EQ(domains_of(feed), (std::vector<std::string>{"ads.example.com", "tracker.example.org",
                                                        "x.example.net", "bare-host.example.com"}));
  ASSERT_EQ(feed.ips.size(), 1u);
  EXPECT_EQ(feed.unsupported, 8u);
  EXPECT_EQ(feed.parse_errors, 1u);
}

TEST(FeedParser, AutoDetectsEachFormat) {
  EXPECT_EQ(detect_format("# c\na.com\nb.com\n"), FeedFormat::domains);
  EXPECT_EQ(detect_format("# c\n*.a.com\n*.b.com\n"), FeedFormat::wildcard);
  EXPECT_EQ(detect_format("! c\n||a.com^\n||b.com^\n"), FeedFormat::abp);
  EXPECT_EQ(detect_format("0.0.0.0 a.com\n127.0.0.1\tb.com\n"), FeedFormat::hosts);
  EXPECT_EQ(detect_format(""), FeedFormat::domains);
}

TEST(FeedParser, NeverCrashesOnBinaryJunk) {
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk.push_back(static_cast<char>((i * 131 + 7) % 256));
  for (auto format : {FeedFormat::auto_detect, FeedFormat::domains, FeedFormat::hosts,
                      FeedFormat::abp, FeedFormat::wildcard}) {
    const ParsedFeed feed = parse_feed("junk", junk, format);
    EXPECT_GT(feed.parse_errors + feed.unsupported + feed.skipped, 0u);
  }
}

// ---- real data -------------------------------------------------------------------------------

struct RealFeedCase {
  const char* file;
  FeedFormat expected_format;
  const char* domains_command;  // independent count of host entries (%s = path)
  const char* ips_command;      // independent count of IP entries, or nullptr for 0
  const char* unsupported_command;  // or nullptr for 0
  const char* errors_command = nullptr;  // independent count of junk lines, or nullptr for 0
};

std::string with_path(const char* command, const std::string& path) {
  std::string result(command);
  result.replace(result.find("%s"), 2, "'" + path + "'");
  return result;
}

class RealFeeds : public ::testing::TestWithParam<RealFeedCase> {};

TEST_P(RealFeeds, CountsMatchAnIndependentGrepAwkCount) {
  const RealFeedCase& c = GetParam();
  const std::string path = shared_data(c.file);
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "missing shared data " << path;
  const ParsedFeed feed = parse_feed(c.file, read_file(path));
  EXPECT_EQ(feed.format, c.expected_format);
  const long domains = shell_count(with_path(c.domains_command, path));
  ASSERT_GT(domains, 0) << c.domains_command;
  EXPECT_EQ(static_cast<long>(feed.domain_count()), domains);
  const long ips = c.ips_command ? shell_count(with_path(c.ips_command, path)) : 0;
  EXPECT_EQ(static_cast<long>(feed.ips.size()), ips);
  const long unsupported =
      c.unsupported_command ? shell_count(with_path(c.unsupported_command, path)) : 0;
  EXPECT_EQ(static_cast<long>(feed.unsupported), unsupported);
  std::string issues;
  for (const auto& issue : feed.first_errors) {
    issues += "line " + std::to_string(issue.line) + ": " + issue.message + "\n";
  }
  const long errors = c.errors_command ? shell_count(with_path(c.errors_command, path)) : 0;
  EXPECT_EQ(static_cast<long>(feed.parse_errors), errors) << issues;
}

const RealFeedCase kRealFeeds[] = {
    {"oisd/domainswild2_big.txt", FeedFormat::domains, "grep -cvE '^(#|$)' %s", nullptr, nullptr},
    {"oisd/domainswild2_small.txt", FeedFormat::domains, "grep -cvE '^(#|$)' %s", nullptr, nullptr},
    {"oisd/domainswild_small.txt", FeedFormat::wildcard, "grep -c '^\\*\\.' %s", nullptr, nullptr},
    {"oisd/abp_small.txt", FeedFormat::abp, "grep -cE '^\\|\\|[^/$*]+\\^$' %s", nullptr, nullptr},
    {"urlhaus/urlhaus-filter-domains.txt", FeedFormat::domains,
     "grep -v '^#' %s | grep -cvE '^[0-9.]+$'", "grep -cE '^[0-9.]+$' %s", nullptr},
    {"urlhaus/urlhaus-filter-wildcard.txt", FeedFormat::wildcard,
     "grep '^\\*\\.' %s | grep -cvE '^\\*\\.[0-9.]+$'", "grep -cE '^\\*\\.[0-9.]+$' %s", nullptr},
    {"urlhaus/urlhaus-filter-agh.txt", FeedFormat::abp,
     "grep -E '^\\|\\|' %s | grep -cvE '^\\|\\|[0-9.]+\\^$'", "grep -cE '^\\|\\|[0-9.]+\\^$' %s",
     nullptr},
    // uBlock Origin list: bare hosts/IPs, ||host^$all, and ||host/path^$all rules (unsupported).
    {"urlhaus/urlhaus-filter-online.txt", FeedFormat::domains,
     "awk '!/^!/ && !/\\// && !/^([0-9.]+|\\|\\|[0-9.]+\\^.*)$/' %s | grep -c .",
     "awk '!/^!/ && !/\\// && /^([0-9.]+|\\|\\|[0-9.]+\\^.*)$/' %s | grep -c .",
     "awk '!/^!/ && /\\//' %s | grep -c ."},
    {"urlhaus/urlhaus-filter-hosts.txt", FeedFormat::hosts, "grep -c '^0\\.0\\.0\\.0 ' %s", nullptr,
     nullptr},
    {"urlhaus/abusech-urlhaus-hostfile-20230707.txt", FeedFormat::hosts,
     "awk -F'\\t' '$1==\"127.0.0.1\"' %s | grep -c .", nullptr, nullptr},
    {"hosts/stevenblack-data-StevenBlack-hosts-20230707", FeedFormat::hosts,
     "awk '$1==\"0.0.0.0\" && $2!=\"0.0.0.0\"' %s | grep -c .", nullptr, nullptr,
     // the upstream file has two names without an address ("analytics.shein.com")
     "grep -vE '^[[:space:]]*(#|$)' %s | grep -cvE '^[0-9]'"},
    // Counts names after a sink address up to an inline '#', minus the localhost preamble;
    // names that are IPs ("0.0.0.0 130.211.230.53") go to the IP set.
    {"hosts/stevenblack-unified-hosts-20181215", FeedFormat::hosts,
     "awk '($1==\"0.0.0.0\"||$1==\"127.0.0.1\"||$1==\"::1\") { for (i = 2; i <= NF; i++) {"
     " if ($i ~ /^#/) break; if ($i ~ /^(localhost|localhost\\.localdomain|local|broadcasthost|"
     "ip6-.*|0\\.0\\.0\\.0|[0-9.]+)$/) continue; n++ } } END { print n }' %s",
     "awk '$1==\"0.0.0.0\" && $2 ~ /^[0-9.]+$/ && $2!=\"0.0.0.0\"' %s | grep -c .", nullptr},
    {"tlds/hagezi-spam-tlds-onlydomains.txt", FeedFormat::domains, "grep -cvE '^(#|$)' %s", nullptr,
     nullptr},
};

INSTANTIATE_TEST_SUITE_P(Shared, RealFeeds, ::testing::ValuesIn(kRealFeeds),
                         [](const ::testing::TestParamInfo<RealFeedCase>& info) {
                           std::string name = info.param.file;
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

TEST(RealFeedsAbp, OisdSmallInThreeSyntaxesGivesTheSameDomains) {
  const std::string plain = shared_data("oisd/domainswild2_small.txt");
  if (!std::filesystem::exists(plain)) GTEST_SKIP() << "missing shared data";
  const auto a = parse_feed("a", read_file(plain));
  const auto b = parse_feed("b", read_file(shared_data("oisd/domainswild_small.txt")));
  const auto c = parse_feed("c", read_file(shared_data("oisd/abp_small.txt")));
  ASSERT_EQ(a.domain_count(), b.domain_count());
  ASSERT_EQ(a.domain_count(), c.domain_count());
  std::vector<std::string> da = domains_of(a), db = domains_of(b), dc = domains_of(c);
  std::sort(da.begin(), da.end());
  std::sort(db.begin(), db.end());
  std::sort(dc.begin(), dc.end());
  EXPECT_EQ(da, db);
  EXPECT_EQ(da, dc);
}

}  // namespace
}  // namespace sallyport::blocklist

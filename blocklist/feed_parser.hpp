#pragma once
// Feed parsers for the blocklist formats real feeds use. Parsing never fails as a whole: junk
// lines are counted (with the first few line numbers kept for the operator) and skipped.
//   domains   one host per line (OISD "domainswild2", URLhaus domains); bare IPs go to `ips`
//   wildcard  "*.example.com" per line (same meaning as a plain domain: it and its subdomains)
//   hosts     "0.0.0.0 a.com b.com" / "127.0.0.1<TAB>a.com" (sinks 0.0.0.0, 127.0.0.1, ::, ::1);
//             localhost-style preamble names and lines mapping to a real address are `skipped`
//   abp       "||example.com^" (options $all/$important/$document allowed); exception (@@),
//             cosmetic (##), path, regex and other rules are counted as `unsupported`;
//             a bare host name line (uBlock Origin syntax) is a domain rule
// All formats accept '#' and '!' comment lines, blank lines, CRLF, a UTF-8 BOM and inline
// " # comment" tails. Entries are normalised with normalize_host_into (A-labels, lower-case).
#include "blocklist/egress_policy.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sallyport::blocklist {

inline constexpr std::size_t kMaxReportedIssues = 5;

struct ParseIssue {
  std::size_t line = 0;  // 1-based
  std::string message;   // what was wrong and what was expected (line text truncated)
};

struct ParsedFeed {
  std::string name;
  FeedFormat format = FeedFormat::auto_detect;  // the format actually used
  std::size_t lines = 0;
  std::size_t parse_errors = 0;
  std::size_t unsupported = 0;  // rules valid in the format that a host policy cannot express
  std::size_t skipped = 0;      // hosts-file preamble and non-sink mappings (not errors)
  std::vector<ParseIssue> first_errors;  // at most kMaxReportedIssues
  std::vector<IpAddress> ips;            // bare IP entries (a per-feed IP deny set)

  std::size_t domain_count() const noexcept { return domain_ends_.size(); }
  std::string_view domain(std::size_t index) const noexcept;
  std::size_t entry_count() const noexcept { return domain_count() + ips.size(); }
  // parse_errors / (entries + parse_errors); 0 for an empty feed.
  double error_ratio() const noexcept;
  void add_domain(std::string_view normalized_host);

 private:
  // All domains back to back in one buffer: 209k OISD entries cost ~4 MB, not 209k strings.
  std::string domain_bytes_;
  std::vector<std::uint32_t> domain_ends_;
};

// Guesses the format from the first significant lines (majority vote).
FeedFormat detect_format(std::string_view text);

// Parses `text` in `format` (auto_detect: detect_format first). Never throws on bad input.
ParsedFeed parse_feed(std::string_view name, std::string_view text,
                      FeedFormat format = FeedFormat::auto_detect);

const char* to_string(FeedFormat format);
// "auto", "domains", "hosts", "abp", "wildcard" (config spelling); false when unknown.
bool parse_feed_format(std::string_view text, FeedFormat& format);

}  // namespace sallyport::blocklist

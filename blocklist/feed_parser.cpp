#include "blocklist/feed_parser.hpp"

#include "blocklist/normalize.hpp"

#include <algorithm>
#include <array>

namespace sallyport::blocklist {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Splits off the next whitespace-separated token.
std::string_view next_token(std::string_view& rest) {
  rest = trim(rest);
  std::size_t end = 0;
  while (end < rest.size() && !is_space(rest[end])) ++end;
  const auto token = rest.substr(0, end);
  rest.remove_prefix(end);
  rest = trim(rest);
  return token;
}

bool is_comment(std::string_view line) {
  return line.front() == '#' || line.front() == '!' || line.front() == '[';
}

// Hosts files block a name by pointing it at a sink; other addresses are real mappings.
bool is_sink_address(const IpAddress& ip) {
  if (ip.is_v4) return ip.v4_host_order() == 0 || ip.v4_host_order() == 0x7f000001;
  const bool all_zero_but_last =
      std::all_of(ip.bytes.begin(), ip.bytes.end() - 1, [](std::uint8_t b) { return b == 0; });
  return all_zero_but_last && ip.bytes[15] <= 1;  // :: and ::1
}

bool is_preamble_name(std::string_view name) {
  return name == "localhost" || name == "localhost.localdomain" || name == "local" ||
         name == "broadcasthost" || name == "ip6-localhost" || name == "ip6-loopback" ||
         name.starts_with("ip6-");
}

class LineParser {
 public:
  explicit LineParser(ParsedFeed& feed) : feed_(feed) {}

  void error(std::size_t line_number, std::string_view line, std::string_view what) {
    ++feed_.parse_errors;
    if (feed_.first_errors.size() >= kMaxReportedIssues) return;
    std::string shown(line.substr(0, 80));
    feed_.first_errors.push_back(
        ParseIssue{line_number, std::string(what) + " in \"" + shown + "\""});
  }

  // A host token: an IP literal goes to the IP set, anything else must normalise.
  void add_host(std::size_t line_number, std::string_view line, std::string_view token) {
    if (token.starts_with("*.")) token.remove_prefix(2);
    if (auto ip = IpAddress::parse_literal(token)) {
      feed_.ips.push_back(*ip);
      return;
    }
    const auto problem = normalize_host_into(token, buffer_);
    if (!problem.empty()) {
      error(line_number, line, problem);
      return;
    }
    feed_.add_domain(buffer_);
  }

  void domains_line(std::size_t n, std::string_view line) {
    if (line.starts_with("||") || line.starts_with("@@")) {
      abp_line(n, line);  // uBlock Origin lists mix bare hosts with ABP rules
      return;
    }
    std::string_view rest = line;
    const auto token = next_token(rest);
    if (!rest.empty() && rest.front() != '#') {
      error(n, line, "expected one host name per line");
      return;
    }
    add_host(n, line, token);
  }

  void hosts_line(std::size_t n, std::string_view line) {
    std::string_view rest = line;
    const auto address_token = next_token(rest);
    const auto address = IpAddress::parse_literal(address_token);
    if (!address || rest.empty() || rest.front() == '#') {
      error(n, line, "expected \"<address> <host> [<host>...]\"");
      return;
    }
    if (!is_sink_address(*address)) {  // "255.255.255.255 broadcasthost", "ff02::1 ip6-allnodes"
      ++feed_.skipped;
      return;
    }
    while (!rest.empty() && rest.front() != '#') {
      const auto name = next_token(rest);
      const auto literal = IpAddress::parse_literal(name);
      if (is_preamble_name(name) || (literal && is_sink_address(*literal))) {
        ++feed_.skipped;  // "127.0.0.1 localhost", "0.0.0.0 0.0.0.0"
        continue;
      }
      add_host(n, line, name);
    }
  }

  void abp_line(std::size_t n, std::string_view line) {
    if (line.starts_with("@@") || line.find("##") != std::string_view::npos ||
        line.find("#@#") != std::string_view::npos || line.find("#?#") != std::string_view::npos ||
        line.find("#$#") != std::string_view::npos) {
      ++feed_.unsupported;  // exception and cosmetic rules
      return;
    }
    if (!line.starts_with("||")) {
      // uBlock Origin accepts a bare host name as a rule; anything else (URL patterns,
      // /regex/, |anchors|) is a rule a host policy cannot express.
      if (line.find_first_of("/|^$*=?&:") != std::string_view::npos) {
        ++feed_.unsupported;
        return;
      }
      domains_line(n, line);
      return;
    }
    std::string_view rule = line.substr(2);
    const auto end = rule.find_first_of("^/$*|:?");
    const auto host = rule.substr(0, end);
    std::string_view tail = end == std::string_view::npos ? std::string_view{} : rule.substr(end);
    if (tail.starts_with("^")) tail.remove_prefix(1);
    if (tail.starts_with("|")) tail.remove_prefix(1);
    if (!tail.empty() && !(tail.front() == '$' && options_are_host_wide(tail.substr(1)))) {
      ++feed_.unsupported;  // path, port, wildcard or narrowing options ($third-party, ...)
      return;
    }
    if (host.empty()) {
      error(n, line, "expected \"||host^\"");
      return;
    }
    add_host(n, line, host);
  }

 private:
  // Options that keep a rule meaning "block this host entirely".
  static bool options_are_host_wide(std::string_view options) {
    if (options.empty()) return false;
    while (!options.empty()) {
      const auto comma = options.find(',');
      const auto option = options.substr(0, comma);
      if (option != "all" && option != "important" && option != "document" && option != "doc") {
        return false;
      }
      if (comma == std::string_view::npos) break;
      options.remove_prefix(comma + 1);
    }
    return true;
  }

  ParsedFeed& feed_;
  std::string buffer_;
};

template <typename Visit>
void for_each_significant_line(std::string_view text, Visit&& visit) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  std::size_t line_number = 0;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    const auto raw = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    ++line_number;
    const auto line = trim(raw);
    if (line.empty() || is_comment(line)) continue;
    if (!visit(line_number, line)) return;
  }
}

}  // namespace

std::string_view ParsedFeed::domain(std::size_t index) const noexcept {
  const std::uint32_t begin = index == 0 ? 0 : domain_ends_[index - 1];
  return std::string_view(domain_bytes_).substr(begin, domain_ends_[index] - begin);
}

double ParsedFeed::error_ratio() const noexcept {
  const std::size_t total = entry_count() + parse_errors;
  return total == 0 ? 0.0 : static_cast<double>(parse_errors) / static_cast<double>(total);
}

void ParsedFeed::add_domain(std::string_view normalized_host) {
  domain_bytes_.append(normalized_host);
  domain_ends_.push_back(static_cast<std::uint32_t>(domain_bytes_.size()));
}

FeedFormat detect_format(std::string_view text) {
  std::array<int, 5> votes{};  // indexed by FeedFormat
  int seen = 0;
  if (const auto header = text.find("[Adblock"); header < 64) return FeedFormat::abp;
  for_each_significant_line(text, [&](std::size_t, std::string_view line) {
    FeedFormat guess = FeedFormat::domains;
    if (line.starts_with("||") || line.starts_with("@@")) {
      guess = FeedFormat::abp;
    } else if (line.starts_with("*.")) {
      guess = FeedFormat::wildcard;
    } else {
      std::string_view rest = line;
      const auto first = next_token(rest);
      if (!rest.empty() && rest.front() != '#' && IpAddress::parse_literal(first)) {
        guess = FeedFormat::hosts;
      }
    }
    ++votes[static_cast<std::size_t>(guess)];
    return ++seen < 200;
  });
  std::size_t best = static_cast<std::size_t>(FeedFormat::domains);
  for (std::size_t i = 1; i < votes.size(); ++i) {
    if (votes[i] > votes[best]) best = i;
  }
  return static_cast<FeedFormat>(best);
}

ParsedFeed parse_feed(std::string_view name, std::string_view text, FeedFormat format) {
  ParsedFeed feed;
  feed.name = std::string(name);
  feed.format = format == FeedFormat::auto_detect ? detect_format(text) : format;
  LineParser parser(feed);
  for_each_significant_line(text, [&](std::size_t n, std::string_view line) {
    switch (feed.format) {
      case FeedFormat::hosts: parser.hosts_line(n, line); break;
      case FeedFormat::abp: parser.abp_line(n, line); break;
      default: parser.domains_line(n, line); break;  // domains, wildcard (the "*." is optional)
    }
    return true;
  });
  feed.lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) +
               (!text.empty() && text.back() != '\n' ? 1 : 0);
  return feed;
}

const char* to_string(FeedFormat format) {
  switch (format) {
    case FeedFormat::auto_detect: return "auto";
    case FeedFormat::domains: return "domains";
    case FeedFormat::hosts: return "hosts";
    case FeedFormat::abp: return "abp";
    case FeedFormat::wildcard: return "wildcard";
  }
  return "unknown";
}

bool parse_feed_format(std::string_view text, FeedFormat& format) {
  for (auto candidate : {FeedFormat::auto_detect, FeedFormat::domains, FeedFormat::hosts,
                         FeedFormat::abp, FeedFormat::wildcard}) {
    if (text == to_string(candidate)) {
      format = candidate;
      return true;
    }
  }
  return false;
}

}  // namespace sallyport::blocklist

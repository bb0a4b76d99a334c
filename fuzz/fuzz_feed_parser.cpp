// Blocklist feed text in every format (auto-detected and forced) must parse without crashing,
// and every accepted entry must be a normalised host (lower-case, no trailing dot).
#include "blocklist/feed_parser.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sallyport::blocklist;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (auto format : {FeedFormat::auto_detect, FeedFormat::domains, FeedFormat::hosts,
                      FeedFormat::abp, FeedFormat::wildcard}) {
    const ParsedFeed feed = parse_feed("fuzz", text, format);
    for (std::size_t i = 0; i < feed.domain_count(); ++i) {
      const std::string_view domain = feed.domain(i);
      if (domain.empty() || domain.back() == '.' || domain.size() > 253) std::abort();
      for (char c : domain) {
        if (c >= 'A' && c <= 'Z') std::abort();
      }
    }
  }
  return 0;
}

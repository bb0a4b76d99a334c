#pragma once
// Feeds compiled into the binary, selected by FeedSource::builtin.
#include <optional>
#include <string_view>
#include <vector>

namespace sallyport::blocklist {

// The text of a built-in feed ("default": blocklist/data/default.txt, URLhaus CC0 + test
// entries), or nullopt when there is no such feed.
std::optional<std::string_view> builtin_feed_text(std::string_view name);
std::vector<std::string_view> builtin_feed_names();

}  // namespace sallyport::blocklist

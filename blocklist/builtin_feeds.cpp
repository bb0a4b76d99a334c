#include "blocklist/builtin_feeds.hpp"

namespace sallyport::blocklist {
namespace generated {
extern const std::string_view default_feed_text;  // builtin_default.cpp (generated)
}  // namespace generated

std::optional<std::string_view> builtin_feed_text(std::string_view name) {
  if (name == "default") return generated::default_feed_text;
  return std::nullopt;
}

std::vector<std::string_view> builtin_feed_names() { return {"default"}; }

}  // namespace sallyport::blocklist

#pragma once
// Downloads blocklist feeds for the blocklist refresher thread. Blocking by design (the
// refresher owns its thread), bounded in time and size. A feed URL is operator-written, but it
// still never reaches cloud metadata: every resolved address is checked and metadata /
// unspecified addresses are refused.
#include "blocklist/egress_policy.hpp"

#include <chrono>
#include <cstddef>

namespace sallyport::router {

struct FeedFetchOptions {
  std::chrono::seconds timeout{60};           // whole fetch including redirects
  std::size_t max_body_bytes = 64 * 1024 * 1024;
  int max_redirects = 5;
  std::string ca_file;  // extra trust anchors (tests); the system store is always used
};

blocklist::FetchResult fetch_feed(const blocklist::FeedSource& feed, const FeedFetchOptions& options);

}  // namespace sallyport::router

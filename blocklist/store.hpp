#pragma once
// BlocklistStore: loads the configured feeds, keeps the last good copy of each, publishes an
// immutable BlocklistSnapshot through an atomic shared_ptr, and refreshes in the background.
//
// Refresh contract (shared/DESIGN.md): a feed copy that failed to fetch/read, is empty, has fewer
// than min_count_ratio × the previous entry count, or whose parse-error ratio exceeds
// max_error_ratio is rejected: the feed keeps its last good copy, its `failures` and the store's
// `refresh_failures` go up, `last_error` says why. A feed that fails never empties the set built
// from the feeds that worked. Accepted URL copies are written to cache_dir (temp file, fsync,
// rename, mode 0600), and load() reads them back so a restart without network enforces the last
// list. Readers call current() on every request: one atomic load, no lock.
#include "blocklist/egress_policy.hpp"
#include "blocklist/feed_parser.hpp"
#include "blocklist/policy.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sallyport::blocklist {

struct RefreshThresholds {
  double min_count_ratio = 0.5;  // reject a copy with fewer entries than this × the previous one
  double max_error_ratio = 0.2;  // reject a copy whose parse_errors / (entries + errors) is higher
  double jitter = 0.1;           // each wait is refresh × (1 ± jitter), uniformly
  std::chrono::seconds retry{60};  // wait used while some feed has never loaded (capped by refresh)
  std::size_t max_feed_bytes = 64u << 20;  // larger bodies/files are rejected
};

// Injection points for tests (and the router's HTTP client). Defaults: no fetcher (URL feeds
// fail with an error), system_clock, a condition-variable wait that stop() interrupts, mt19937.
struct StoreHooks {
  FetchFn fetch;
  std::function<std::chrono::system_clock::time_point()> now;
  // Waits for `duration`. A custom sleep must return promptly by itself; stop() is checked after.
  std::function<void(std::chrono::nanoseconds)> sleep;
  std::function<double()> random_unit;  // uniform in [0, 1)
};

struct FeedStats {
  std::string name;
  std::string source;       // "builtin:default", "file:/etc/x.txt", "url:https://…"
  std::string loaded_from;  // where the current copy came from: builtin|file|url|cache|"" (none)
  std::string format;       // detected or configured: domains|hosts|abp|wildcard
  std::size_t domains = 0;  // entries in the current copy (before cross-feed de-duplication)
  std::size_t ips = 0;
  std::size_t parse_errors = 0;
  std::size_t unsupported = 0;
  std::size_t skipped = 0;
  std::vector<ParseIssue> first_errors;
  std::optional<std::chrono::system_clock::time_point> last_refresh;  // last accepted copy
  std::optional<std::chrono::system_clock::time_point> last_attempt;
  std::string last_error;  // why the last attempt was rejected; empty after a good one
  std::uint64_t failures = 0;
};

struct BlocklistStats {
  std::vector<FeedStats> feeds;
  std::size_t total_domains = 0;  // unique names in the published snapshot
  std::size_t total_ips = 0;
  std::size_t snapshot_bytes = 0;
  std::uint64_t refreshes = 0;         // refresh rounds completed (load() counts as one)
  std::uint64_t refresh_failures = 0;  // feed copies rejected, all feeds, since start
  bool ready = false;
};

class BlocklistStore {
 public:
  // Throws std::invalid_argument when `options` fail validate_egress_options (start-up error).
  explicit BlocklistStore(EgressPolicyOptions options, StoreHooks hooks = {},
                          RefreshThresholds thresholds = {});
  ~BlocklistStore();
  BlocklistStore(const BlocklistStore&) = delete;
  BlocklistStore& operator=(const BlocklistStore&) = delete;

  // First load: builtin and file feeds are read; URL feeds come from the cache when present,
  // else are fetched. Always publishes a snapshot (possibly without the feeds that failed).
  void load();
  // One refresh round over every feed (builtin feeds are loaded once); swaps the snapshot when
  // any feed changed. Returns the number of feed copies rejected in this round.
  std::size_t refresh();

  // Starts the background refresher (calls load() first if it has not run). The first round runs
  // at once when a URL feed was served from cache or never loaded, then every refresh ± jitter.
  void start();
  // Stops and joins the refresher; returns promptly (interrupts the default wait). Idempotent.
  void stop();

  std::shared_ptr<const EgressPolicy> current() const noexcept { return current_snapshot(); }
  std::shared_ptr<const BlocklistSnapshot> current_snapshot() const noexcept {
    return snapshot_.load(std::memory_order_acquire);
  }
  // True once a snapshot is published and every configured feed has a good copy.
  bool ready() const noexcept { return ready_.load(std::memory_order_acquire); }
  BlocklistStats stats() const;
  // Calls `visit` once per entry of the feeds' current good copies, in byte order and
  // de-duplicated across feeds: normalised domains as matched, bare IPs as "ip:<canonical>".
  // For digests (`sallyport attest`); sorts every entry, so never call it on the request path.
  void for_each_entry_sorted(const std::function<void(std::string_view)>& visit) const;
  const EgressPolicyOptions& options() const noexcept { return options_; }

  // The next wait of the refresher: refresh × (1 ± jitter), or the retry wait (see thresholds).
  std::chrono::nanoseconds next_delay();

 private:
  struct FeedState {
    FeedSource source;
    std::shared_ptr<const ParsedFeed> last_good;
    FeedStats stats;
    bool fetched_this_run = false;  // a URL feed served from cache still wants a fetch
  };
  struct Attempt;

  Attempt attempt_feed(const FeedState& feed, bool allow_cache);
  bool refresh_feed(FeedState& feed, bool allow_cache);
  bool accept_or_reject(FeedState& feed, Attempt attempt);
  void publish();
  void run();
  bool wants_early_refresh() const;

  const EgressPolicyOptions options_;
  StoreHooks hooks_;
  const RefreshThresholds thresholds_;

  std::atomic<std::shared_ptr<const BlocklistSnapshot>> snapshot_;
  std::atomic<bool> ready_{false};

  std::mutex refresh_mutex_;        // one load/refresh at a time
  mutable std::mutex state_mutex_;  // guards feeds_[*].stats/last_good, counters, rng
  std::vector<FeedState> feeds_;
  std::uint64_t refreshes_ = 0;
  std::uint64_t refresh_failures_ = 0;
  bool loaded_ = false;

  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread refresher_;
};

}  // namespace sallyport::blocklist

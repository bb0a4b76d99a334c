#include "blocklist/store.hpp"

#include "blocklist/builtin_feeds.hpp"
#include "blocklist/store_cache.hpp"
#include "common/log.hpp"

#include <algorithm>
#include <random>
#include <stdexcept>

namespace sallyport::blocklist {
namespace {

constexpr std::string_view kLog = "blocklist";

std::string with_thousands(std::size_t value) {
  std::string digits = std::to_string(value);
  for (std::size_t i = digits.size(); i > 3; i -= 3) digits.insert(i - 3, ",");
  return digits;
}

std::string describe_source(const FeedSource& source) {
  if (!source.builtin.empty()) return "builtin:" + source.builtin;
  if (!source.file.empty()) return "file:" + source.file;
  return "url:" + source.url;
}

std::string ratio_text(double ratio) {
  return std::to_string(static_cast<int>(ratio * 100.0 + 0.5)) + "%";
}

}  // namespace

struct BlocklistStore::Attempt {
  std::shared_ptr<const ParsedFeed> parsed;  // null when the copy could not be obtained
  std::string body;                          // kept for URL feeds, to persist to the cache
  std::string loaded_from;
  std::string error;
};

BlocklistStore::BlocklistStore(EgressPolicyOptions options, StoreHooks hooks,
                               RefreshThresholds thresholds)
    : options_(std::move(options)), hooks_(std::move(hooks)), thresholds_(thresholds) {
  if (auto errors = validate_egress_options(options_); !errors.empty()) {
    std::string joined;
    for (const auto& error : errors) joined += (joined.empty() ? "" : "; ") + error;
    throw std::invalid_argument(joined);
  }
  if (!hooks_.now) hooks_.now = [] { return std::chrono::system_clock::now(); };
  if (!hooks_.random_unit) {
    auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
    hooks_.random_unit = [engine] {
      return std::uniform_real_distribution<double>(0.0, 1.0)(*engine);
    };
  }
  for (const auto& source : options_.feeds) {
    FeedState state;
    state.source = source;
    state.stats.name = source.name;
    state.stats.source = describe_source(source);
    feeds_.push_back(std::move(state));
  }
}

BlocklistStore::~BlocklistStore() { stop(); }

BlocklistStore::Attempt BlocklistStore::attempt_feed(const FeedState& feed, bool allow_cache) {
  const FeedSource& source = feed.source;
  Attempt attempt;
  std::optional<std::string> text;
  if (!source.builtin.empty()) {
    if (auto builtin = builtin_feed_text(source.builtin)) text = std::string(*builtin);
    else attempt.error = "unknown builtin feed \"" + source.builtin + "\" (expected \"default\")";
    attempt.loaded_from = "builtin";
  } else if (!source.file.empty()) {
    text = read_text_file(source.file, thresholds_.max_feed_bytes, attempt.error);
    attempt.loaded_from = "file";
  } else {
    if (allow_cache && !options_.cache_dir.empty()) {
      std::string cache_error;
      text = read_text_file(feed_cache_path(options_.cache_dir, source.name),
                            thresholds_.max_feed_bytes, cache_error);
      attempt.loaded_from = "cache";
    }
    if (!text) {
      attempt.loaded_from = "url";
      if (!hooks_.fetch) {
        attempt.error = "no fetcher configured for URL feeds";
      } else {
        FetchResult result = hooks_.fetch(source);
        if (!result.ok) {
          attempt.error = "fetch failed: " + (result.error.empty() ? "unknown error" : result.error);
        } else if (result.status != 0 && (result.status < 200 || result.status > 299)) {
          attempt.error = "fetch failed: HTTP status " + std::to_string(result.status);
        } else if (result.body.size() > thresholds_.max_feed_bytes) {
          attempt.error = "fetched body larger than the feed size limit";
        } else {
          text = std::move(result.body);
        }
      }
    }
  }
  if (!text) return attempt;
  attempt.parsed = std::make_shared<const ParsedFeed>(parse_feed(source.name, *text, source.format));
  if (attempt.loaded_from == "url") attempt.body = std::move(*text);
  return attempt;
}

// Called with state_mutex_ held.
bool BlocklistStore::accept_or_reject(FeedState& feed, Attempt attempt) {
  FeedStats& stats = feed.stats;
  stats.last_attempt = hooks_.now();
  std::string problem = attempt.error;
  const ParsedFeed* parsed = attempt.parsed.get();
  if (problem.empty() && parsed != nullptr) {
    const std::size_t previous = feed.last_good ? feed.last_good->entry_count() : 0;
    if (parsed->entry_count() == 0) {
      problem = "implausible copy: no entries";
    } else if (parsed->error_ratio() > thresholds_.max_error_ratio) {
      problem = "implausible copy: " + ratio_text(parsed->error_ratio()) +
                " of lines are parse errors (limit " + ratio_text(thresholds_.max_error_ratio) + ")";
    } else if (static_cast<double>(parsed->entry_count()) <
               thresholds_.min_count_ratio * static_cast<double>(previous)) {
      problem = "implausible copy: " + std::to_string(parsed->entry_count()) +
                " entries, fewer than " + ratio_text(thresholds_.min_count_ratio) +
                " of the previous " + std::to_string(previous);
    }
  }
  if (!problem.empty()) {
    ++stats.failures;
    ++refresh_failures_;
    stats.last_error = problem;
    log::warn(kLog, "Blocklist feed refresh rejected; keeping the last good copy",
              {{"feed", feed.source.name}, {"source", stats.source}, {"error", problem},
               {"kept_entries", feed.last_good ? feed.last_good->entry_count() : 0}});
    return false;
  }
  feed.last_good = std::move(attempt.parsed);
  if (attempt.loaded_from != "cache") feed.fetched_this_run = true;
  stats.loaded_from = attempt.loaded_from;
  stats.format = to_string(parsed->format);
  stats.domains = parsed->domain_count();
  stats.ips = parsed->ips.size();
  stats.parse_errors = parsed->parse_errors;
  stats.unsupported = parsed->unsupported;
  stats.skipped = parsed->skipped;
  stats.first_errors = parsed->first_errors;
  stats.last_refresh = stats.last_attempt;
  stats.last_error.clear();
  log::info(kLog, "Blocklist feed loaded",
            {{"feed", feed.source.name}, {"source", stats.source}, {"from", stats.loaded_from},
             {"format", stats.format}, {"domains", stats.domains}, {"ips", stats.ips},
             {"parse_errors", stats.parse_errors}, {"unsupported", stats.unsupported}});
  return true;
}

// Obtains, vets and (for URL copies) persists one feed. Returns true when the copy was accepted.
bool BlocklistStore::refresh_feed(FeedState& feed, bool allow_cache) {
  Attempt attempt = attempt_feed(feed, allow_cache);
  std::string body = std::move(attempt.body);
  const bool from_url = attempt.loaded_from == "url";
  bool accepted = false;
  {
    std::lock_guard state_lock(state_mutex_);
    accepted = accept_or_reject(feed, std::move(attempt));
  }
  if (accepted && from_url && !options_.cache_dir.empty()) {
    std::string error;
    if (!write_file_atomically(feed_cache_path(options_.cache_dir, feed.source.name), body, error)) {
      log::warn(kLog, "Cannot write blocklist cache", {{"feed", feed.source.name}, {"error", error}});
    }
  }
  return accepted;
}

void BlocklistStore::load() {
  std::lock_guard refresh_lock(refresh_mutex_);
  for (auto& feed : feeds_) refresh_feed(feed, /*allow_cache=*/true);
  publish();
  std::lock_guard state_lock(state_mutex_);
  ++refreshes_;
  loaded_ = true;
}

std::size_t BlocklistStore::refresh() {
  std::lock_guard refresh_lock(refresh_mutex_);
  std::size_t rejected = 0;
  bool changed = false;
  for (auto& feed : feeds_) {
    {
      std::lock_guard state_lock(state_mutex_);
      if (!feed.source.builtin.empty() && feed.last_good) continue;  // compiled in: immutable
    }
    if (refresh_feed(feed, /*allow_cache=*/false)) {
      changed = true;
    } else {
      ++rejected;
    }
  }
  if (changed || !current_snapshot()) publish();
  std::lock_guard state_lock(state_mutex_);
  ++refreshes_;
  return rejected;
}

void BlocklistStore::publish() {
  std::vector<std::shared_ptr<const ParsedFeed>> keep_alive;
  std::vector<const ParsedFeed*> feeds;
  bool all_loaded = true;
  std::string per_feed;
  {
    std::lock_guard state_lock(state_mutex_);
    for (const auto& feed : feeds_) {
      if (!feed.last_good) {
        all_loaded = false;
        continue;
      }
      keep_alive.push_back(feed.last_good);
      feeds.push_back(feed.last_good.get());
      per_feed += (per_feed.empty() ? "" : " ") + feed.source.name + "=" +
                  std::to_string(feed.last_good->entry_count());
    }
  }
  auto snapshot = build_blocklist_snapshot(options_, feeds);
  const std::size_t domains = snapshot->domain_count();
  const std::size_t ips = snapshot->ip_count();
  snapshot_.store(std::move(snapshot), std::memory_order_release);
  ready_.store(all_loaded, std::memory_order_release);
  std::uint64_t failures = 0;
  {
    std::lock_guard state_lock(state_mutex_);
    failures = refresh_failures_;
  }
  log::info(kLog, "Blocklist refreshed — " + with_thousands(domains) + " domains blocked (total)",
            {{"domains", domains}, {"ips", ips}, {"feeds", per_feed},
             {"refresh_failures", failures}, {"ready", all_loaded}});
}

BlocklistStats BlocklistStore::stats() const {
  BlocklistStats result;
  {
    std::lock_guard state_lock(state_mutex_);
    for (const auto& feed : feeds_) result.feeds.push_back(feed.stats);
    result.refreshes = refreshes_;
    result.refresh_failures = refresh_failures_;
  }
  if (auto snapshot = current_snapshot()) {
    result.total_domains = snapshot->domain_count();
    result.total_ips = snapshot->ip_count();
    result.snapshot_bytes = snapshot->memory_bytes();
  }
  result.ready = ready();
  return result;
}

void BlocklistStore::for_each_entry_sorted(
    const std::function<void(std::string_view)>& visit) const {
  std::vector<std::shared_ptr<const ParsedFeed>> copies;  // keeps the views below alive
  {
    std::lock_guard state_lock(state_mutex_);
    for (const auto& feed : feeds_) {
      if (feed.last_good) copies.push_back(feed.last_good);
    }
  }
  std::vector<std::string> ips;
  std::vector<std::string_view> entries;
  for (const auto& copy : copies) {
    for (std::size_t i = 0; i < copy->domain_count(); ++i) entries.push_back(copy->domain(i));
    for (const auto& ip : copy->ips) ips.push_back("ip:" + ip.to_string());
  }
  entries.insert(entries.end(), ips.begin(), ips.end());
  std::sort(entries.begin(), entries.end());
  entries.erase(std::unique(entries.begin(), entries.end()), entries.end());
  for (const auto entry : entries) visit(entry);
}

std::chrono::nanoseconds BlocklistStore::next_delay() {
  std::chrono::nanoseconds base = options_.refresh;
  double unit = 0.5;
  {
    std::lock_guard state_lock(state_mutex_);
    const bool missing = std::any_of(feeds_.begin(), feeds_.end(),
                                     [](const FeedState& feed) { return !feed.last_good; });
    if (missing) base = std::min<std::chrono::nanoseconds>(base, thresholds_.retry);
    unit = hooks_.random_unit();
  }
  const double factor = 1.0 + thresholds_.jitter * (2.0 * unit - 1.0);
  return std::chrono::nanoseconds(
      static_cast<std::int64_t>(static_cast<double>(base.count()) * factor));
}

bool BlocklistStore::wants_early_refresh() const {
  std::lock_guard state_lock(state_mutex_);
  return std::any_of(feeds_.begin(), feeds_.end(), [](const FeedState& feed) {
    return !feed.source.url.empty() && !feed.fetched_this_run;
  });
}

void BlocklistStore::start() {
  bool loaded = false;
  {
    std::lock_guard state_lock(state_mutex_);
    loaded = loaded_;
  }
  if (!loaded) load();
  std::lock_guard stop_lock(stop_mutex_);
  if (refresher_.joinable()) return;
  stopping_ = false;
  refresher_ = std::thread([this] { run(); });
}

void BlocklistStore::stop() {
  {
    std::lock_guard stop_lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (refresher_.joinable() && refresher_.get_id() != std::this_thread::get_id()) refresher_.join();
}

void BlocklistStore::run() {
  const auto refresh_logged = [this] {
    try {
      refresh();
    } catch (const std::exception& e) {  // a throwing fetcher must not kill the refresher
      log::error(kLog, "Blocklist refresh failed", {{"error", e.what()}});
    }
  };
  if (wants_early_refresh()) refresh_logged();
  while (true) {
    const auto delay = next_delay();
    if (hooks_.sleep) {
      hooks_.sleep(delay);
      std::lock_guard stop_lock(stop_mutex_);
      if (stopping_) return;
    } else {
      std::unique_lock stop_lock(stop_mutex_);
      if (stop_cv_.wait_for(stop_lock, delay, [this] { return stopping_; })) return;
    }
    refresh_logged();
  }
}

}  // namespace sallyport::blocklist

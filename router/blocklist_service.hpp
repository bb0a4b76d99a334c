#pragma once
// Owns the running BlocklistStore: loads it from the config, feeds it the router's HTTP fetcher,
// exports its figures as metrics on every scrape, and replaces it atomically when a reload
// changes the egress policy. Readers get the current immutable snapshot through policy().
#include "blocklist/store.hpp"
#include "config/config.hpp"
#include "router/metrics.hpp"

#include <atomic>
#include <memory>

namespace sallyport::router {

class BlocklistService {
 public:
  BlocklistService(const config::Config& cfg, Metrics& metrics);
  ~BlocklistService();

  // Loads every feed (bundled and file feeds; URL feeds from cache or network) and starts the
  // background refresher. Throws std::invalid_argument on an invalid egress policy.
  void start();
  void stop();

  // Builds a store for the new config; on success swaps it in and stops the old one. Returns
  // false (and keeps the running store) when the new egress options are invalid.
  bool reload(const config::Config& cfg);

  std::shared_ptr<const blocklist::EgressPolicy> policy() const;
  bool ready() const;
  std::shared_ptr<blocklist::BlocklistStore> store() const { return store_.load(); }

 private:
  std::atomic<std::shared_ptr<blocklist::BlocklistStore>> store_;
  std::shared_ptr<class BlocklistCollector> collector_;
};

// A store for one-shot CLI use (`blocklist check|stats`): loaded, no refresher.
std::shared_ptr<blocklist::BlocklistStore> load_blocklist_once(const config::Config& cfg);

}  // namespace sallyport::router

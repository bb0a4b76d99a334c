#include "router/blocklist_service.hpp"

#include "common/log.hpp"
#include "router/config_mapping.hpp"
#include "router/feed_fetcher.hpp"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <chrono>

namespace sallyport::router {
namespace {

double epoch_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

blocklist::StoreHooks router_hooks() {
  blocklist::StoreHooks hooks;
  hooks.fetch = [](const blocklist::FeedSource& feed) { return fetch_feed(feed, FeedFetchOptions{}); };
  return hooks;
}

}  // namespace

// Reads the store's stats on each scrape, so the figures are never stale.
class BlocklistCollector : public prometheus::Collectable {
 public:
  explicit BlocklistCollector(const BlocklistService& service) : service_(service) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    const auto store = service_.store();
    if (!store) return {};
    const auto stats = store->stats();
    using prometheus::MetricType;
    auto domains = metric_family("sallyport_blocklist_domains", "Domains in the current copy of each feed.", MetricType::Gauge);
    auto ips = metric_family("sallyport_blocklist_ips", "IP entries in the current copy of each feed.", MetricType::Gauge);
    auto errors = metric_family("sallyport_blocklist_parse_errors", "Lines of the current copy of each feed that did not parse.", MetricType::Gauge);
    auto refreshed = metric_family("sallyport_blocklist_last_refresh_timestamp_seconds",
                            "Unix time of the last accepted copy of each feed.", MetricType::Gauge);
    auto failures = metric_family("sallyport_blocklist_feed_failures_total",
                           "Rejected fetches or reads of each feed (last good copy kept).", MetricType::Counter);
    for (const auto& feed : stats.feeds) {
      std::vector<prometheus::ClientMetric::Label> label{{"feed", feed.name}};
      add_sample(domains, static_cast<double>(feed.domains), label);
      add_sample(ips, static_cast<double>(feed.ips), label);
      add_sample(errors, static_cast<double>(feed.parse_errors), label);
      add_sample(refreshed, feed.last_refresh ? epoch_seconds(*feed.last_refresh) : 0, label);
      add_sample(failures, static_cast<double>(feed.failures), label);
    }
    auto total = metric_family("sallyport_blocklist_domains_total_unique",
                        "Unique domains in the published snapshot across feeds.", MetricType::Gauge);
    add_sample(total, static_cast<double>(stats.total_domains));
    auto bytes = metric_family("sallyport_blocklist_snapshot_bytes", "Memory held by the published snapshot.", MetricType::Gauge);
    add_sample(bytes, static_cast<double>(stats.snapshot_bytes));
    auto rounds = metric_family("sallyport_blocklist_refreshes_total", "Refresh rounds completed.", MetricType::Counter);
    add_sample(rounds, static_cast<double>(stats.refreshes));
    return {domains, ips, errors, refreshed, failures, total, bytes, rounds};
  }

 private:
  const BlocklistService& service_;
};

BlocklistService::BlocklistService(const config::Config& cfg, Metrics& metrics) {
  store_.store(std::make_shared<blocklist::BlocklistStore>(egress_policy_options(cfg), router_hooks()));
  collector_ = std::make_shared<BlocklistCollector>(*this);
  metrics.add_collectable(collector_);
}

BlocklistService::~BlocklistService() { stop(); }

void BlocklistService::start() { store_.load()->start(); }

void BlocklistService::stop() {
  if (auto s = store_.load()) s->stop();
}

bool BlocklistService::reload(const config::Config& cfg) {
  auto options = egress_policy_options(cfg);
  if (const auto errors = blocklist::validate_egress_options(options); !errors.empty()) {
    for (const auto& e : errors) log::error("blocklist", "reload rejected; keeping the running policy", {{"error", e}});
    return false;
  }
  auto fresh = std::make_shared<blocklist::BlocklistStore>(std::move(options), router_hooks());
  fresh->start();
  auto old = store_.exchange(fresh);
  if (old) old->stop();
  return true;
}

std::shared_ptr<const blocklist::EgressPolicy> BlocklistService::policy() const {
  return store_.load()->current();
}

bool BlocklistService::ready() const { return store_.load()->ready(); }

std::shared_ptr<blocklist::BlocklistStore> load_blocklist_once(const config::Config& cfg) {
  auto store = std::make_shared<blocklist::BlocklistStore>(egress_policy_options(cfg), router_hooks());
  store->load();
  return store;
}

}  // namespace sallyport::router

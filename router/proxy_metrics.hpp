#pragma once
// The forward proxy's Prometheus metrics, declared together in one table (proxy_metrics.cpp).
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace sallyport::router {

// The labelled counters are looked up once and kept: prometheus' Family::Add builds a label map,
// hashes it and takes the family lock, which is measurable on the per-request path.
class ProxyMetrics {
 public:
  explicit ProxyMetrics(prometheus::Registry& registry);

  void request(std::string_view method) const;                          // requests_total{method}
  void decision(std::string_view decision, std::string_view reason) const;  // decisions_total
  void error(std::string_view kind) const;                              // errors_total{kind}
  prometheus::Counter& bytes_up;                                  // bytes_total{direction="up"}
  prometheus::Counter& bytes_down;
  prometheus::Gauge& active;                                      // connections_active
  prometheus::Histogram& connect_seconds;                         // upstream_connect_seconds

 private:
  // One cache of counters keyed by their label values (reasons are a closed set, plus one
  // "blocklist:<feed>" per configured feed, so the cache stays small).
  class CounterCache {
   public:
    using LabelViews = std::initializer_list<std::pair<std::string_view, std::string_view>>;
    // The counter for `key`, added to `family` with `labels` the first time `key` is seen.
    prometheus::Counter& get(prometheus::Family<prometheus::Counter>& family, std::string_view key,
                             LabelViews labels);

   private:
    std::mutex mutex_;
    std::unordered_map<std::string, prometheus::Counter*> counters_;
  };

  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Family<prometheus::Counter>& errors_;
  std::array<prometheus::Counter*, 9> request_counters_{};  // method_labels order
  mutable CounterCache decision_counters_, error_counters_;
};

}  // namespace sallyport::router

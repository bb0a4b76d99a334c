#pragma once
// The forward proxy's Prometheus metrics, declared together in one table (proxy_metrics.cpp).
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string_view>

namespace sallyport::router {

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
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Family<prometheus::Counter>& errors_;
};

}  // namespace sallyport::router

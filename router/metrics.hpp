#pragma once
// The process-wide Prometheus registry and its text exposition. Components register their
// own families on the registry; process metrics (RSS, fds, start time, build info) live here.
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sallyport::router {

// Building blocks for collectors that compute their families at scrape time.
prometheus::MetricFamily metric_family(std::string name, std::string help,
                                       prometheus::MetricType type);
void add_sample(prometheus::MetricFamily& family, double value,
                std::vector<prometheus::ClientMetric::Label> labels = {});
prometheus::MetricFamily single_sample_family(std::string name, std::string help,
                                              prometheus::MetricType type, double value);

class Metrics {
 public:
  Metrics();
  prometheus::Registry& registry() { return *registry_; }
  // Prometheus text format 0.0.4 of every registered family.
  std::string expose() const;
  // Adds a collector that computes its families at scrape time (e.g. from a component's
  // stats). Held weakly: a collector that is gone simply stops reporting.
  void add_collectable(std::weak_ptr<prometheus::Collectable> collectable);

 private:
  mutable std::mutex collectables_mutex_;
  std::vector<std::weak_ptr<prometheus::Collectable>> collectables_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Collectable> process_;
};

}  // namespace sallyport::router

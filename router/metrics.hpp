#pragma once
// The process-wide Prometheus registry and its text exposition. Components register their
// own families on the registry; process metrics (RSS, fds, start time, build info) live here.
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace sallyport::router {

class Metrics {
 public:
  Metrics();
  prometheus::Registry& registry() { return *registry_; }
  // Prometheus text format 0.0.4 of every registered family.
  std::string expose() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Collectable> process_;
};

}  // namespace sallyport::router

#pragma once
// Reads the kernel guard's deny events (when the pins are there and this process may read
// them), attributes each to tenant/namespace/pod, and turns it into a metric, an audit record
// and a callback (trust). Without BPF access sallyport keeps running, degraded, with a warning.
#include "bpf/deny_events.hpp"
#include "config/config.hpp"

#include <functional>
#include <memory>
#include <thread>

namespace prometheus {
class Registry;
}

namespace sallyport::bpf {
class KernelDenyMetrics;
}

namespace sallyport::router {

class KernelEventService {
 public:
  using Sink = std::function<void(const bpf::DenyEvent&)>;

  KernelEventService(prometheus::Registry& registry, Sink sink);
  ~KernelEventService();

  // Starts the reader thread when kernel_guard.enabled; false (with a logged warning) when the
  // pinned ring buffer cannot be opened.
  bool start(const config::Config& cfg);
  void stop();
  bool running() const { return reader_thread_.joinable(); }

 private:
  std::shared_ptr<bpf::KernelDenyMetrics> metrics_;
  Sink sink_;
  std::jthread reader_thread_;
};

}  // namespace sallyport::router

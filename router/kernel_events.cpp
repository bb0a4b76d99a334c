#include "router/kernel_events.hpp"

#include "bpf/kernel_deny_metrics.hpp"
#include "common/log.hpp"
#include "config/loader.hpp"

namespace sallyport::router {

KernelEventService::KernelEventService(prometheus::Registry& registry, Sink sink)
    : metrics_(std::make_shared<bpf::KernelDenyMetrics>(registry)), sink_(std::move(sink)) {}

KernelEventService::~KernelEventService() { stop(); }

bool KernelEventService::start(const config::Config& cfg) {
  if (!cfg.kernel_guard.enabled) return false;
  bpf::AttributionConfig attribution;
  attribution.default_identity = {config::resolve_value(cfg.identity.tenant),
                                  config::resolve_value(cfg.identity.namespace_),
                                  config::resolve_value(cfg.identity.pod)};
  const std::string pin_dir = cfg.kernel_guard.pin_dir + "/" + cfg.kernel_guard.name;
  auto reader = bpf::DenyEventReader::open(
      pin_dir, std::move(attribution), [metrics = metrics_, sink = sink_](const bpf::DenyEvent& e) {
        metrics->record(e);
        sink(e);
      });
  if (!reader) {
    log::warn("bpf", "kernel guard events unavailable; running without them (degraded)",
              {{"pin_dir", pin_dir}, {"error", reader.error().message}});
    return false;
  }
  reader_thread_ = std::jthread([r = std::move(reader).value()](std::stop_token stop) mutable {
    if (auto status = r.run(stop); !status) {
      log::error("bpf", "kernel guard event reader stopped", {{"error", status.error().message}});
    }
  });
  log::info("bpf", "reading kernel guard deny events", {{"pin_dir", pin_dir}});
  return true;
}

void KernelEventService::stop() {
  if (reader_thread_.joinable()) {
    reader_thread_.request_stop();
    reader_thread_.join();
  }
}

}  // namespace sallyport::router

#pragma once
// Prometheus counters for kernel-guard deny events, fed by DenyEventReader's callback:
//   sallyport_kernel_denied_total{tenant,namespace,pod,reason}    refused (enforce mode)
//   sallyport_kernel_observed_total{tenant,namespace,pod,reason}  would-deny (observe mode)
// Labels come from the event's attribution (config identity, never from the agent), reasons
// from the closed guard_reason set. Thread-safe (prometheus-cpp counters).
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include "bpf/deny_events.hpp"

namespace sallyport::bpf {

class KernelDenyMetrics {
 public:
  explicit KernelDenyMetrics(prometheus::Registry& registry);
  void record(const DenyEvent& event);

 private:
  prometheus::Family<prometheus::Counter>& denied_;
  prometheus::Family<prometheus::Counter>& observed_;
};

}  // namespace sallyport::bpf

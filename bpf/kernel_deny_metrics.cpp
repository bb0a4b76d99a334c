#include "bpf/kernel_deny_metrics.hpp"

namespace sallyport::bpf {

KernelDenyMetrics::KernelDenyMetrics(prometheus::Registry& registry)
    : denied_(prometheus::BuildCounter()
                  .Name("sallyport_kernel_denied_total")
                  .Help("Egress operations refused by the eBPF kernel guard")
                  .Register(registry)),
      observed_(prometheus::BuildCounter()
                    .Name("sallyport_kernel_observed_total")
                    .Help("Egress operations the kernel guard would refuse (observe mode)")
                    .Register(registry)) {}

void KernelDenyMetrics::record(const DenyEvent& event) {
  const auto& id = event.attribution.identity;
  auto& family = event.enforced ? denied_ : observed_;
  family
      .Add({{"tenant", id.tenant},
            {"namespace", id.namespace_name},
            {"pod", id.pod},
            {"reason", event.reason}})
      .Increment();
}

}  // namespace sallyport::bpf

#include "bpf/kernel_deny_metrics.hpp"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

namespace sallyport::bpf {
namespace {

DenyEvent event(bool enforced, std::string reason) {
  DenyEvent e;
  e.enforced = enforced;
  e.reason = std::move(reason);
  e.attribution.identity = {"acme", "research", "agent-7"};
  return e;
}

TEST(KernelDenyMetrics, CountsByAttributionAndReasonSeparatingObserveMode) {
  prometheus::Registry registry;
  KernelDenyMetrics metrics(registry);
  metrics.record(event(true, "metadata"));
  metrics.record(event(true, "metadata"));
  metrics.record(event(false, "egress"));
  const auto text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_NE(text.find("sallyport_kernel_denied_total{namespace=\"research\",pod=\"agent-7\","
                      "reason=\"metadata\",tenant=\"acme\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sallyport_kernel_observed_total{namespace=\"research\",pod=\"agent-7\","
                      "reason=\"egress\",tenant=\"acme\"} 1"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("sallyport_kernel_denied_total{namespace=\"research\",pod=\"agent-7\","
                      "reason=\"egress\""),
            std::string::npos);
}

}  // namespace
}  // namespace sallyport::bpf

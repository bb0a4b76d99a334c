#pragma once
// What trust scores make the router do: egress and kernel denials lower the agent's score; in
// the quarantine tier every egress and model request is denied (reason "trust:quarantined")
// until an operator resets the score; scores and tiers are exported as metrics. Entering the
// quarantine tier (or starting in it) also sets the kernel guard's quarantine flag for the
// agent's cgroup, and leaving it clears the flag (router/kernel_quarantine.hpp; degraded with a
// warning when the guard or kernel_guard.agent_cgroup is not available).
#include "blocklist/egress_policy.hpp"
#include "config/config.hpp"
#include "governance/trust.hpp"
#include "router/kernel_quarantine.hpp"
#include "router/metrics.hpp"

#include <atomic>
#include <memory>
#include <string>

namespace sallyport::router {

class TrustActions {
 public:
  // `kernel_writer` replaces the pinned-map write of the kernel flag (tests).
  TrustActions(governance::TrustRegistry& registry, std::string agent, const config::Config& cfg,
               Metrics& metrics, KernelQuarantineFlag::Writer kernel_writer = {});

  bool quarantined() const { return quarantined_.load(std::memory_order_acquire); }
  std::shared_ptr<const blocklist::EgressPolicy> quarantine_policy() const { return quarantine_; }

  void on_egress_denied(std::string_view reason, std::string_view host);
  void on_kernel_deny(std::string_view reason);
  void on_tier_change(const governance::TrustChange& change);

  const KernelQuarantineFlag& kernel_flag() const { return kernel_flag_; }

 private:
  governance::TrustRegistry& registry_;
  std::string agent_;
  std::atomic<bool> quarantined_{false};
  std::shared_ptr<const blocklist::EgressPolicy> quarantine_;
  std::shared_ptr<prometheus::Collectable> collector_;
  KernelQuarantineFlag kernel_flag_;
};

}  // namespace sallyport::router

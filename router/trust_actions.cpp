#include "router/trust_actions.hpp"

#include "common/log.hpp"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace sallyport::router {
namespace {

// Denies every destination: the quarantine tier stops all egress.
class QuarantinePolicy final : public blocklist::EgressPolicy {
 public:
  blocklist::HostCheck check_host(std::string_view host) const override {
    return {Decision::deny("trust:quarantined", "quarantine", "agent is quarantined"), std::string(host), {}};
  }
  Decision check_address(const blocklist::IpAddress&) const override {
    return Decision::deny("trust:quarantined", "quarantine", "agent is quarantined");
  }
};

class TrustCollector : public prometheus::Collectable {
 public:
  explicit TrustCollector(const governance::TrustRegistry& registry) : registry_(registry) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    auto score = metric_family("sallyport_trust_score",
                               "Trust score of each agent identity (0-1000).",
                               prometheus::MetricType::Gauge);
    auto tier = metric_family("sallyport_trust_tier",
                              "Trust tier of each agent identity (0 = quarantined ... 4 = privileged).",
                              prometheus::MetricType::Gauge);
    for (const auto& s : registry_.list()) {
      add_sample(score, s.score, {{"agent", s.agent}});
      add_sample(tier, static_cast<double>(s.tier), {{"agent", s.agent}});
    }
    return {score, tier};
  }

 private:
  const governance::TrustRegistry& registry_;
};

// Only policy denials count against the agent; malformed requests and upstream failures do not.
bool is_policy_violation(std::string_view reason) {
  for (std::string_view prefix : {"blocklist:", "denylist", "tld:", "ip:", "sni:", "port:"}) {
    if (reason.starts_with(prefix)) return true;
  }
  return false;
}

}  // namespace

TrustActions::TrustActions(governance::TrustRegistry& registry, std::string agent,
                           const config::Config& cfg, Metrics& metrics,
                           KernelQuarantineFlag::Writer kernel_writer)
    : registry_(registry),
      agent_(std::move(agent)),
      quarantine_(std::make_shared<QuarantinePolicy>()),
      collector_(std::make_shared<TrustCollector>(registry)),
      kernel_flag_(cfg.kernel_guard, metrics.registry(), std::move(kernel_writer)) {
  quarantined_.store(registry_.status(agent_).quarantined());
  metrics.add_collectable(collector_);
  if (quarantined()) {
    log::warn("trust", "agent starts quarantined: all egress denied", {{"agent", agent_}});
    // Only set here, never cleared: a flag an operator set by hand (`bpf quarantine`) stays.
    kernel_flag_.apply(true);
  }
}

void TrustActions::on_egress_denied(std::string_view reason, std::string_view host) {
  if (!is_policy_violation(reason)) return;
  const auto event = reason == "ip:metadata" ? governance::TrustEvent::imds_attempt
                                             : governance::TrustEvent::egress_blocked;
  registry_.penalize(agent_, event, std::string(reason) + " " + std::string(host));
}

void TrustActions::on_kernel_deny(std::string_view reason) {
  const auto event = reason == "metadata" ? governance::TrustEvent::imds_attempt
                                          : governance::TrustEvent::kernel_deny;
  registry_.penalize(agent_, event, "kernel:" + std::string(reason));
}

void TrustActions::on_tier_change(const governance::TrustChange& change) {
  if (change.agent != agent_) return;
  const bool now_quarantined = change.tier_after == 0;
  quarantined_.store(now_quarantined, std::memory_order_release);
  if (now_quarantined != (change.tier_before == 0)) kernel_flag_.apply(now_quarantined);
  log::warn("trust", now_quarantined ? "agent quarantined: all egress and model traffic denied"
                                     : "agent trust tier changed",
            {{"agent", change.agent}, {"score", change.after}, {"tier", change.tier_name_after},
             {"cause", change.cause}});
}

}  // namespace sallyport::router

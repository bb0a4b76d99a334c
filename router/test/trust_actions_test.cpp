// Trust actions: entering the quarantine tier sets the kernel quarantine flag for the agent's
// cgroup, leaving it (operator reset) clears it; without a guard, without agent_cgroup or when the
// pinned maps cannot be written, user-space quarantine still works and the gap is counted.
#include <gtest/gtest.h>

#include "router/metrics.hpp"
#include "router/trust_actions.hpp"

namespace sallyport::router {
namespace {

struct FakeGuard {
  std::vector<bool> writes;  // each call: on/off
  std::optional<std::string> fail;
  KernelQuarantineFlag::Writer writer() {
    return [this](bool on) -> std::optional<std::string> {
      writes.push_back(on);
      return fail;
    };
  }
};

std::unique_ptr<governance::TrustRegistry> registry(int initial) {
  governance::TrustConfig config;
  config.initial = initial;
  config.penalties[static_cast<std::size_t>(governance::TrustEvent::egress_blocked)] = 100;
  auto opened = governance::TrustRegistry::open(config);
  EXPECT_TRUE(opened.registry) << opened.error;
  return std::move(opened.registry);
}

config::Config guard_config(bool enabled, std::optional<std::string> cgroup) {
  config::Config cfg;
  cfg.kernel_guard.enabled = enabled;
  cfg.kernel_guard.agent_cgroup = std::move(cgroup);
  return cfg;
}

double metric_value(Metrics& metrics, const std::string& series) {
  const std::string text = metrics.expose();
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

// Wires the registry's tier callback to the actions, as the app does.
struct Wired {
  Metrics metrics;
  std::unique_ptr<governance::TrustRegistry> trust;
  std::unique_ptr<TrustActions> actions;
  Wired(int initial, const config::Config& cfg, FakeGuard& guard) : trust(registry(initial)) {
    actions = std::make_unique<TrustActions>(*trust, "agent-1", cfg, metrics, guard.writer());
    trust->set_tier_callback([this](const governance::TrustChange& c) { actions->on_tier_change(c); });
  }
};

TEST(TrustActionsKernelFlag, SetOnQuarantineClearedOnReset) {
  FakeGuard guard;
  Wired w(250, guard_config(true, "/sys/fs/cgroup/agent"), guard);
  w.actions->on_egress_denied("blocklist:urlhaus", "evil.test");  // 250 -> 150: tier 0
  EXPECT_TRUE(w.actions->quarantined());
  EXPECT_EQ(guard.writes, std::vector<bool>{true});
  EXPECT_TRUE(w.actions->kernel_flag().flagged());
  EXPECT_EQ(metric_value(w.metrics, "sallyport_kernel_quarantine_flag"), 1);
  EXPECT_EQ(metric_value(w.metrics, R"(sallyport_kernel_quarantine_updates_total{action="set",result="ok"})"), 1);

  w.actions->on_egress_denied("blocklist:urlhaus", "evil.test");  // 150 -> 50: still tier 0
  EXPECT_EQ(guard.writes.size(), 1u) << "no rewrite while the tier stays the same";

  w.trust->reset("agent-1", 600, "alice", "reviewed");
  EXPECT_FALSE(w.actions->quarantined());
  EXPECT_EQ(guard.writes, (std::vector<bool>{true, false}));
  EXPECT_FALSE(w.actions->kernel_flag().flagged());
  EXPECT_EQ(metric_value(w.metrics, "sallyport_kernel_quarantine_flag"), 0);
  EXPECT_EQ(metric_value(w.metrics, R"(sallyport_kernel_quarantine_updates_total{action="clear",result="ok"})"), 1);
}

TEST(TrustActionsKernelFlag, OtherTierChangesDoNotTouchTheFlag) {
  FakeGuard guard;
  Wired w(700, guard_config(true, "/sys/fs/cgroup/agent"), guard);
  w.actions->on_egress_denied("blocklist:urlhaus", "x");  // 700 -> 600
  w.actions->on_egress_denied("blocklist:urlhaus", "x");  // 600 -> 500: tier change, not quarantine
  w.actions->on_egress_denied("timeout", "x");            // not a policy violation
  EXPECT_FALSE(w.actions->quarantined());
  EXPECT_TRUE(guard.writes.empty());
}

TEST(TrustActionsKernelFlag, StartingQuarantinedSetsTheFlag) {
  FakeGuard guard;
  Wired w(100, guard_config(true, "/sys/fs/cgroup/agent"), guard);
  EXPECT_TRUE(w.actions->quarantined());
  EXPECT_EQ(guard.writes, std::vector<bool>{true});
}

TEST(TrustActionsKernelFlag, NoGuardNoCgroupOrUnwritableMapDegradeToUserSpace) {
  {
    FakeGuard guard;
    Wired w(250, guard_config(false, "/sys/fs/cgroup/agent"), guard);
    w.actions->on_egress_denied("blocklist:urlhaus", "x");
    EXPECT_TRUE(w.actions->quarantined());
    EXPECT_TRUE(guard.writes.empty()) << "kernel_guard disabled: nothing to write";
  }
  {
    FakeGuard guard;
    Wired w(250, guard_config(true, std::nullopt), guard);
    w.actions->on_egress_denied("blocklist:urlhaus", "x");
    EXPECT_TRUE(w.actions->quarantined());
    EXPECT_TRUE(guard.writes.empty());
    EXPECT_EQ(metric_value(w.metrics, R"(sallyport_kernel_quarantine_updates_total{action="set",result="unconfigured"})"), 1);
  }
  {
    FakeGuard guard;
    guard.fail = "open pinned BPF object /sys/fs/bpf/sallyport/default/quarantine: Operation not permitted";
    Wired w(250, guard_config(true, "/sys/fs/cgroup/agent"), guard);
    w.actions->on_egress_denied("blocklist:urlhaus", "x");
    EXPECT_TRUE(w.actions->quarantined()) << "user-space quarantine holds even when the kernel flag fails";
    EXPECT_EQ(guard.writes, std::vector<bool>{true});
    EXPECT_FALSE(w.actions->kernel_flag().flagged());
    EXPECT_EQ(metric_value(w.metrics, R"(sallyport_kernel_quarantine_updates_total{action="set",result="error"})"), 1);
    EXPECT_EQ(metric_value(w.metrics, "sallyport_kernel_quarantine_flag"), 0);
  }
}

TEST(KernelQuarantineFlag, RealWriterReportsAMissingGuardAsAnError) {
  Metrics metrics;
  config::KernelGuard guard;
  guard.enabled = true;
  guard.pin_dir = "/nonexistent/sallyport-pins";
  guard.agent_cgroup = "/nonexistent/cgroup";
  KernelQuarantineFlag flag(guard, metrics.registry());
  EXPECT_EQ(flag.apply(true), KernelQuarantineFlag::Outcome::failed);
  EXPECT_FALSE(flag.flagged());
}

}  // namespace
}  // namespace sallyport::router

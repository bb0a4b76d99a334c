#include "router/kernel_quarantine.hpp"

#include "bpf/guard_loader.hpp"
#include "common/log.hpp"

#include <prometheus/registry.h>

namespace sallyport::router {
namespace {

KernelQuarantineFlag::Writer pinned_map_writer(const config::KernelGuard& guard) {
  return [pin_dir = guard.pin_dir, name = guard.name,
          cgroup = guard.agent_cgroup.value_or("")](bool on) -> std::optional<std::string> {
    auto changed = bpf::set_guard_quarantine(pin_dir, name, cgroup, on);
    if (!changed) return changed.error().message;
    return std::nullopt;
  };
}

}  // namespace

KernelQuarantineFlag::KernelQuarantineFlag(const config::KernelGuard& guard,
                                           prometheus::Registry& registry, Writer writer)
    : enabled_(guard.enabled),
      cgroup_(guard.agent_cgroup),
      guard_(guard.pin_dir + "/" + guard.name),
      writer_(writer ? std::move(writer) : pinned_map_writer(guard)),
      updates_(prometheus::BuildCounter()
                   .Name("sallyport_kernel_quarantine_updates_total")
                   .Help("Kernel guard quarantine flag updates on trust tier changes, by action and result.")
                   .Register(registry)),
      flag_gauge_(prometheus::BuildGauge()
                      .Name("sallyport_kernel_quarantine_flag")
                      .Help("1 while sallyport has set the kernel quarantine flag for the agent's cgroup.")
                      .Register(registry)
                      .Add({})) {}

void KernelQuarantineFlag::count(bool on, const char* result) {
  updates_.Add({{"action", on ? "set" : "clear"}, {"result", result}}).Increment();
}

KernelQuarantineFlag::Outcome KernelQuarantineFlag::apply(bool quarantined) {
  if (!enabled_) return Outcome::skipped;
  std::lock_guard lock(mutex_);
  if (!cgroup_) {
    count(quarantined, "unconfigured");
    if (!warned_unconfigured_) {
      warned_unconfigured_ = true;
      log::warn("trust", "kernel quarantine flag not set: kernel_guard.agent_cgroup is not configured "
                         "(quarantine is enforced in user space only)",
                {{"quarantined", quarantined}});
    }
    return Outcome::skipped;
  }
  if (auto error = writer_(quarantined)) {
    count(quarantined, "error");
    if (!warned_error_) {
      warned_error_ = true;
      log::warn("trust", "cannot update the kernel quarantine flag (quarantine is enforced in user space only)",
                {{"guard", guard_}, {"cgroup", *cgroup_}, {"quarantined", quarantined}, {"error", *error}});
    } else {
      log::debug("trust", "kernel quarantine flag update failed again",
                 {{"guard", guard_}, {"cgroup", *cgroup_}, {"error", *error}});
    }
    return Outcome::failed;
  }
  count(quarantined, "ok");
  flagged_.store(quarantined, std::memory_order_release);
  flag_gauge_.Set(quarantined ? 1 : 0);
  log::info("trust", quarantined ? "kernel quarantine flag set for the agent's cgroup"
                                 : "kernel quarantine flag cleared for the agent's cgroup",
            {{"guard", guard_}, {"cgroup", *cgroup_}});
  return quarantined ? Outcome::set : Outcome::cleared;
}

}  // namespace sallyport::router

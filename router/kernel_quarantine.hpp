#pragma once
// The kernel half of trust quarantine: when the agent drops to the quarantine tier, its cgroup
// (config kernel_guard.agent_cgroup) gets the guard's quarantine flag, so the kernel denies all
// non-loopback egress of every process in it, not only what goes through sallyport; the flag is
// cleared when the agent leaves the tier (POST /admin/trust reset).
//
// Decision (apply):
//   kernel_guard.enabled false         -> nothing (no guard in use)                 skipped
//   no kernel_guard.agent_cgroup       -> warning once, result "unconfigured"        skipped
//   guard pins unreachable / no access -> warning once (then debug), result "error"  failed
//   written                            -> info log, result "ok"                      set/cleared
// Never throws and never fails the caller: user-space quarantine works either way.
// Metrics: sallyport_kernel_quarantine_updates_total{action="set"|"clear",result}, and
// sallyport_kernel_quarantine_flag (1 while the flag is set by sallyport).
#include "config/config.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace prometheus {
class Registry;
}

namespace sallyport::router {

class KernelQuarantineFlag {
 public:
  // Sets (on) or clears the flag; returns an error message. The default writes the pinned maps of
  // guard kernel_guard.name under kernel_guard.pin_dir (bpf::set_guard_quarantine).
  using Writer = std::function<std::optional<std::string>(bool on)>;
  enum class Outcome : unsigned char { set, cleared, skipped, failed };

  KernelQuarantineFlag(const config::KernelGuard& guard, prometheus::Registry& registry,
                       Writer writer = {});

  Outcome apply(bool quarantined);
  [[nodiscard]] bool flagged() const { return flagged_.load(std::memory_order_acquire); }

 private:
  void count(bool on, const char* result);

  const bool enabled_;
  const std::optional<std::string> cgroup_;
  const std::string guard_;  // pin_dir/name, for logs
  Writer writer_;
  prometheus::Family<prometheus::Counter>& updates_;
  prometheus::Gauge& flag_gauge_;
  std::mutex mutex_;  // one write at a time; tier changes may come from several threads
  std::atomic<bool> flagged_{false};
  bool warned_unconfigured_ = false;
  bool warned_error_ = false;
};

}  // namespace sallyport::router

#pragma once
// Reader for the kernel guard's deny events, for the router (metrics, audit, trust) and for
// `sallyport bpf events`. Opens the pinned ring buffer <pin_root>/<name>/events, decodes each
// struct guard_event, attributes its cgroup id to {tenant, namespace, pod} and hands it to a
// callback on the polling thread.
//
// Use from a plain thread:   reader.run(stop_token)
// Use from an event loop:    wait for readability of reader.epoll_fd(), then reader.poll(0ms)
// A missing pin is an error value (not an exception): the router logs it once and runs without
// kernel events (degraded mode).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include "bpf/cgroup_attribution.hpp"
#include "bpf/guard_shared.h"
#include "bpf/result.hpp"

namespace sallyport::bpf {

struct DenyEvent {
  std::uint64_t cgroup_id = 0;
  std::uint64_t ts_ns = 0;  // CLOCK_MONOTONIC (bpf_ktime_get_ns)
  std::uint32_t uid = 0;
  std::uint32_t pid = 0;  // 0 for skb backstop drops
  std::string comm;       // untrusted: the agent picks its own process name
  unsigned family = 0;    // AF_INET / AF_INET6 / AF_PACKET
  std::string dst_addr;   // "" for socket-creation denials
  std::uint16_t dst_port = 0;
  std::string proto;        // "tcp", "udp", "icmp", …
  std::string reason;       // guard_reason_name: metric label `reason`
  std::string hook;         // guard_hook_name
  bool enforced = false;    // false: observe mode, the operation was allowed
  Attribution attribution;  // filled by the reader; default when decoded alone
};

// Decodes one raw record (no attribution). Never fails; unknown enum values become "unknown".
DenyEvent decode_guard_event(const guard_event& raw);

// One JSON object (single line) with every field, attribution included. Untrusted strings are
// JSON-escaped.
std::string deny_event_json(const DenyEvent& event);

class DenyEventReader {
 public:
  using Callback = std::function<void(const DenyEvent&)>;

  // pin_dir is the guard's directory, e.g. /sys/fs/bpf/sallyport/default.
  static Result<DenyEventReader> open(const std::string& pin_dir, AttributionConfig attribution,
                                      Callback callback);

  DenyEventReader(DenyEventReader&&) noexcept;
  DenyEventReader& operator=(DenyEventReader&&) noexcept;
  ~DenyEventReader();

  // Delivers pending events, waiting up to `timeout` for the first; returns how many.
  Result<int> poll(std::chrono::milliseconds timeout);
  // Polls until `stop` is requested; returns early only on a ring-buffer error.
  Status run(std::stop_token stop);
  // Readable when events are pending (for Asio: posix::stream_descriptor + async_wait(read)).
  [[nodiscard]] int epoll_fd() const;

 private:
  struct State;
  explicit DenyEventReader(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace sallyport::bpf

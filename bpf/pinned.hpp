#pragma once
// Internal to bpf/: fd ownership and access to the pinned objects of one guard. Not for other
// components (they use guard_loader.hpp / deny_events.hpp).
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bpf/guard_shared.h"
#include "bpf/result.hpp"

namespace sallyport::bpf {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Program section -> pin file of its link, in attach order.
struct LinkPin {
  const char* program;   // name in guard.bpf.c
  const char* pin_name;  // file under the guard's pin directory
};
inline constexpr std::array<LinkPin, 6> kLinkPins = {{
    {"guard_connect4", "link_connect4"},
    {"guard_connect6", "link_connect6"},
    {"guard_sendmsg4", "link_sendmsg4"},
    {"guard_sendmsg6", "link_sendmsg6"},
    {"guard_sock_create", "link_sock_create"},
    {"guard_skb_egress", "link_skb_egress"},
}};
inline constexpr std::array<const char*, 8> kMapPins = {
    GUARD_PIN_CONFIG,   GUARD_PIN_AGENT_UIDS, GUARD_PIN_ROUTER_UIDS, GUARD_PIN_RESOLVERS,
    GUARD_PIN_METADATA, GUARD_PIN_QUARANTINE, GUARD_PIN_COUNTERS,    GUARD_PIN_EVENTS};

// bpf_obj_get with an error that names the pin and hints at the cause.
Result<UniqueFd> open_pinned(const std::string& path);

// All keys of a (non-per-CPU) map, via BPF_MAP_GET_NEXT_KEY.
template <typename Key>
std::vector<Key> map_keys(int map_fd);

Result<guard_config> read_config(int config_fd);
Status write_config(int config_fd, const guard_config& config);

// Summed per-CPU counters, GUARD_COUNTER_SLOTS entries.
Result<std::vector<guard_counter>> read_counters(int counters_fd);

// Cgroup id a pinned cgroup link is attached to (0 when the link is detached).
Result<std::uint64_t> link_cgroup_id(int link_fd, std::uint32_t* link_id, std::uint32_t* prog_id,
                                     std::uint32_t* attach_type);

}  // namespace sallyport::bpf

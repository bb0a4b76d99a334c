#include "bpf/pinned.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>

namespace sallyport::bpf {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

Result<UniqueFd> open_pinned(const std::string& path) {
  const int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    const int err = errno;
    std::string hint;
    if (err == ENOENT) hint = " (is the guard attached? run `sallyport bpf status`)";
    if (err == EPERM || err == EACCES) hint = " (needs root or CAP_BPF and read access to the pin)";
    return Error{errno_error("open pinned BPF object " + path, err).message + hint, err};
  }
  return UniqueFd(fd);
}

template <typename Key>
std::vector<Key> map_keys(int map_fd) {
  std::vector<Key> keys;
  Key key{};
  Key next{};
  const void* cursor = nullptr;  // NULL asks for the first key
  constexpr std::size_t kMaxKeys = 1u << 16;
  while (keys.size() < kMaxKeys && bpf_map_get_next_key(map_fd, cursor, &next) == 0) {
    keys.push_back(next);
    key = next;
    cursor = &key;
  }
  return keys;
}
template std::vector<std::uint32_t> map_keys<std::uint32_t>(int);
template std::vector<std::uint64_t> map_keys<std::uint64_t>(int);
template std::vector<guard_lpm_key> map_keys<guard_lpm_key>(int);

Result<guard_config> read_config(int config_fd) {
  const std::uint32_t zero = 0;
  guard_config config{};
  if (bpf_map_lookup_elem(config_fd, &zero, &config) != 0)
    return errno_error("read guard config map", errno);
  return config;
}

Status write_config(int config_fd, const guard_config& config) {
  const std::uint32_t zero = 0;
  if (bpf_map_update_elem(config_fd, &zero, &config, BPF_ANY) != 0) {
    return errno_error("write guard config map", errno);
  }
  return ok_status();
}

Result<std::vector<guard_counter>> read_counters(int counters_fd) {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return errno_error("count possible CPUs", -cpus);
  std::vector<guard_counter> totals(GUARD_COUNTER_SLOTS);
  std::vector<guard_counter> per_cpu(static_cast<std::size_t>(cpus));
  for (std::uint32_t slot = 0; slot < GUARD_COUNTER_SLOTS; ++slot) {
    if (bpf_map_lookup_elem(counters_fd, &slot, per_cpu.data()) != 0) {
      return errno_error("read guard counters slot " + std::to_string(slot), errno);
    }
    for (const auto& c : per_cpu) {
      totals[slot].denied += c.denied;
      totals[slot].observed += c.observed;
    }
  }
  return totals;
}

Result<std::uint64_t> link_cgroup_id(int link_fd, std::uint32_t* link_id, std::uint32_t* prog_id,
                                     std::uint32_t* attach_type) {
  bpf_link_info info{};
  std::uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(link_fd, &info, &len) != 0)
    return errno_error("read BPF link info", errno);
  if (link_id) *link_id = info.id;
  if (prog_id) *prog_id = info.prog_id;
  if (attach_type) *attach_type = info.cgroup.attach_type;
  return static_cast<std::uint64_t>(info.cgroup.cgroup_id);
}

}  // namespace sallyport::bpf

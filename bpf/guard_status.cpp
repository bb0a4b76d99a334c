// Reading and adjusting an attached guard through its pins: status, quarantine, mode.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "bpf/cgroup_attribution.hpp"
#include "bpf/guard_loader.hpp"
#include "bpf/pinned.hpp"

namespace sallyport::bpf {
namespace {

std::vector<std::string> guard_names(const std::string& pin_root,
                                     const std::optional<std::string>& name) {
  if (name) return {*name};
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(pin_root, ec)) {
    if (entry.is_directory(ec)) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::uint32_t> sorted_uids(int fd) {
  auto uids = map_keys<std::uint32_t>(fd);
  std::sort(uids.begin(), uids.end());
  return uids;
}

std::vector<std::string> prefixes(int fd) {
  std::vector<std::string> out;
  for (const auto& key : map_keys<guard_lpm_key>(fd)) out.push_back(format_guard_prefix(key));
  std::sort(out.begin(), out.end());
  return out;
}

Status read_links(const std::string& dir, const std::string& cgroup_root, GuardStatus& status) {
  for (const auto& [program, pin_name] : kLinkPins) {
    auto fd = open_pinned(dir + "/" + pin_name);
    if (!fd) return fd.error();
    GuardLinkInfo info;
    info.program = program;
    std::uint32_t attach_type = 0;
    auto id = link_cgroup_id(fd.value().get(), &info.link_id, &info.prog_id, &attach_type);
    if (!id) return id.error();
    info.cgroup_id = id.value();
    const char* type_name = libbpf_bpf_attach_type_str(static_cast<bpf_attach_type>(attach_type));
    info.attach_type = type_name ? type_name : std::to_string(attach_type);
    if (!cgroup_root.empty())
      info.cgroup_path = find_cgroup_path_by_id(cgroup_root, info.cgroup_id).value_or("");
    status.links.push_back(std::move(info));
  }
  return ok_status();
}

Status read_counter_rows(int fd, GuardStatus& status) {
  auto totals = read_counters(fd);
  if (!totals) return totals.error();
  for (unsigned hook = 0; hook < GUARD_HOOK_MAX; ++hook) {
    for (unsigned reason = 1; reason < GUARD_REASON_MAX; ++reason) {
      const auto& c = totals.value()[GUARD_COUNTER_INDEX(hook, reason)];
      if (c.denied == 0 && c.observed == 0) continue;
      status.counters.push_back(
          {guard_hook_name(hook), guard_reason_name(reason), c.denied, c.observed});
    }
  }
  status.events_lost = totals.value()[GUARD_COUNTER_EVENTS_LOST].denied;
  return ok_status();
}

Result<GuardStatus> read_one(const std::string& pin_root, const std::string& name,
                             const std::string& cgroup_root) {
  GuardStatus status;
  status.name = name;
  status.pin_dir = pin_root + "/" + name;
  const auto pin = [&](const char* file) { return open_pinned(status.pin_dir + "/" + file); };
  auto config_fd = pin(GUARD_PIN_CONFIG);
  if (!config_fd) return config_fd.error();
  auto config = read_config(config_fd.value().get());
  if (!config) return config.error();
  status.mode = static_cast<GuardMode>(config.value().mode);
  status.admin_port = config.value().admin_port;
  for (auto [file, target] : {std::pair{GUARD_PIN_AGENT_UIDS, &status.agent_uids},
                              std::pair{GUARD_PIN_ROUTER_UIDS, &status.router_uids}}) {
    auto fd = pin(file);
    if (!fd) return fd.error();
    *target = sorted_uids(fd.value().get());
  }
  for (auto [file, target] : {std::pair{GUARD_PIN_RESOLVERS, &status.resolvers},
                              std::pair{GUARD_PIN_METADATA, &status.metadata}}) {
    auto fd = pin(file);
    if (!fd) return fd.error();
    *target = prefixes(fd.value().get());
  }
  auto quarantine_fd = pin(GUARD_PIN_QUARANTINE);
  if (!quarantine_fd) return quarantine_fd.error();
  status.quarantined_cgroups = map_keys<std::uint64_t>(quarantine_fd.value().get());
  auto counters_fd = pin(GUARD_PIN_COUNTERS);
  if (!counters_fd) return counters_fd.error();
  if (auto s = read_counter_rows(counters_fd.value().get(), status); !s) return s.error();
  if (auto s = read_links(status.pin_dir, cgroup_root, status); !s) return s.error();
  return status;
}

std::string cgroup_root_or_empty() {
  auto root = find_cgroup2_mount();
  return root ? root.value() : std::string{};
}

}  // namespace

Result<std::vector<GuardStatus>> read_guard_status(const std::string& pin_root,
                                                   const std::optional<std::string>& name) {
  if (name) {
    if (auto s = validate_guard_name(*name); !s) return s.error();
  }
  const auto cgroup_root = cgroup_root_or_empty();
  std::vector<GuardStatus> out;
  for (const auto& guard : guard_names(pin_root, name)) {
    auto status = read_one(pin_root, guard, cgroup_root);
    if (!status)
      return Error{"guard '" + guard + "': " + status.error().message, status.error().errno_value};
    out.push_back(std::move(status).value());
  }
  return out;
}

Status set_guard_mode(const std::string& pin_root, const std::string& name, GuardMode mode) {
  if (auto s = validate_guard_name(name); !s) return s;
  auto fd = open_pinned(pin_root + "/" + name + "/" + GUARD_PIN_CONFIG);
  if (!fd) return fd.error();
  auto config = read_config(fd.value().get());
  if (!config) return config.error();
  config.value().mode = static_cast<std::uint32_t>(mode);
  return write_config(fd.value().get(), config.value());
}

namespace {

Status apply_quarantine(const std::string& dir, std::uint64_t cgroup_id, bool on) {
  auto map_fd = open_pinned(dir + "/" + GUARD_PIN_QUARANTINE);
  if (!map_fd) return map_fd.error();
  const std::uint8_t one = 1;
  const int rc = on ? bpf_map_update_elem(map_fd.value().get(), &cgroup_id, &one, BPF_ANY)
                    : bpf_map_delete_elem(map_fd.value().get(), &cgroup_id);
  if (rc != 0 && !(errno == ENOENT && !on))
    return errno_error("update quarantine map in " + dir, errno);
  auto config_fd = open_pinned(dir + "/" + GUARD_PIN_CONFIG);
  if (!config_fd) return config_fd.error();
  auto config = read_config(config_fd.value().get());
  if (!config) return config.error();
  // The programs skip the cgroup walk while this is 0, so it must match the map's size.
  config.value().quarantine_active =
      static_cast<std::uint32_t>(map_keys<std::uint64_t>(map_fd.value().get()).size());
  return write_config(config_fd.value().get(), config.value());
}

// True when the guard in `dir` is attached to `target` (relative cgroup path) or a parent of it.
bool guard_covers(const std::string& dir, const std::string& cgroup_root,
                  const std::string& target) {
  auto fd = open_pinned(dir + "/" + kLinkPins[0].pin_name);
  if (!fd) return false;
  auto id = link_cgroup_id(fd.value().get(), nullptr, nullptr, nullptr);
  if (!id) return false;
  const auto attached = find_cgroup_path_by_id(cgroup_root, id.value());
  if (!attached) return false;
  return *attached == "/" || target == *attached || target.starts_with(*attached + "/");
}

}  // namespace

Result<std::vector<std::string>> set_guard_quarantine(const std::string& pin_root,
                                                      const std::optional<std::string>& name,
                                                      const std::string& cgroup_path, bool on) {
  if (name) {
    if (auto s = validate_guard_name(*name); !s) return s.error();
  }
  auto cgroup_id = cgroup_id_of(cgroup_path);
  if (!cgroup_id) return cgroup_id.error();
  auto cgroup_root = find_cgroup2_mount();
  if (!cgroup_root) return cgroup_root.error();
  const auto target = find_cgroup_path_by_id(cgroup_root.value(), cgroup_id.value());
  if (!target)
    return Error{"cgroup " + cgroup_path + " is not under the cgroup2 mount " + cgroup_root.value(),
                 ENOENT};
  std::vector<std::string> changed;
  for (const auto& guard : guard_names(pin_root, name)) {
    const auto dir = pin_root + "/" + guard;
    if (!name && !guard_covers(dir, cgroup_root.value(), *target)) continue;
    if (auto s = apply_quarantine(dir, cgroup_id.value(), on); !s) return s.error();
    changed.push_back(guard);
  }
  if (changed.empty()) {
    return Error{"no attached guard under " + pin_root + " covers cgroup " + cgroup_path +
                     " (attach one with `sallyport bpf attach --cgroup …` or pass --name)",
                 ENOENT};
  }
  return changed;
}

}  // namespace sallyport::bpf

// attach / detach / support checks. Status, quarantine and mode live in guard_status.cpp.
#include "bpf/guard_loader.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>

#include "bpf/capabilities.hpp"
#include "bpf/cgroup_attribution.hpp"
#include "bpf/guard.skel.h"
#include "bpf/pinned.hpp"

namespace sallyport::bpf {
namespace {

// libbpf reports verifier logs and load problems through a global print hook; keep the tail of
// the warnings so an attach error can show why the kernel refused.
std::mutex g_libbpf_log_mutex;
std::string g_libbpf_log;

int capture_libbpf_log(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[1024];
  const int n = std::vsnprintf(line, sizeof line, format, args);
  std::lock_guard lock(g_libbpf_log_mutex);
  g_libbpf_log.append(
      line, n > 0 ? std::min<std::size_t>(static_cast<std::size_t>(n), sizeof line - 1) : 0);
  constexpr std::size_t kKeep = 4096;
  if (g_libbpf_log.size() > kKeep) g_libbpf_log.erase(0, g_libbpf_log.size() - kKeep);
  return 0;
}

std::string take_libbpf_log() {
  std::lock_guard lock(g_libbpf_log_mutex);
  std::string out;
  out.swap(g_libbpf_log);
  return out;
}

Error with_libbpf_log(Error error) {
  if (auto log = take_libbpf_log(); !log.empty()) error.message += "\nlibbpf: " + log;
  return error;
}

Status require_privileges() {
  if (geteuid() == 0 || has_effective_capability(kCapBpf) ||
      has_effective_capability(kCapSysAdmin)) {
    return ok_status();
  }
  return Error{"the kernel guard needs root or CAP_BPF + CAP_NET_ADMIN (running as uid " +
                   std::to_string(geteuid()) + " without them)",
               EPERM};
}

Status require_program_types() {
  struct Needed {
    bpf_prog_type type;
    const char* what;
  };
  for (const Needed n :
       {Needed{BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "cgroup sock_addr (connect/sendmsg)"},
        Needed{BPF_PROG_TYPE_CGROUP_SOCK, "cgroup sock (sock_create)"},
        Needed{BPF_PROG_TYPE_CGROUP_SKB, "cgroup_skb"}}) {
    const int supported = libbpf_probe_bpf_prog_type(n.type, nullptr);
    if (supported == 0) {
      return Error{std::string("this kernel lacks the BPF program type ") + n.what +
                       " that the kernel guard needs (CONFIG_CGROUP_BPF)",
                   EOPNOTSUPP};
    }
    if (supported < 0)
      return errno_error(std::string("probe BPF program type ") + n.what, -supported);
  }
  return ok_status();
}

// Makes sure pin_root's parent is a bpf filesystem, mounting one at /sys/fs/bpf if that directory
// is empty and unmounted (common in minimal init containers).
Status ensure_bpffs(const std::string& pin_root) {
  namespace fs = std::filesystem;
  const fs::path parent = fs::path(pin_root).parent_path();
  struct statfs st {};
  if (statfs(parent.c_str(), &st) != 0)
    return errno_error("bpf filesystem at " + parent.string(), errno);
  if (st.f_type == BPF_FS_MAGIC) return ok_status();
  if (parent == "/sys/fs/bpf" && mount("bpf", parent.c_str(), "bpf", 0, "mode=0700") == 0) {
    return ok_status();
  }
  return Error{parent.string() + " is not a bpf filesystem (expected `mount -t bpf bpf " +
                   parent.string() + "`)",
               ENOTSUP};
}

struct SkeletonDeleter {
  void operator()(guard_bpf* skel) const { guard_bpf__destroy(skel); }
};
using Skeleton = std::unique_ptr<guard_bpf, SkeletonDeleter>;

// Pins made during one attach; removed again unless commit() is reached. With the pins gone,
// destroying the skeleton closes the last fds and the kernel detaches everything.
class PinTransaction {
 public:
  explicit PinTransaction(std::string dir) : dir_(std::move(dir)) {}
  PinTransaction(const PinTransaction&) = delete;
  PinTransaction& operator=(const PinTransaction&) = delete;
  ~PinTransaction() {
    if (committed_) return;
    for (const auto& path : pins_) ::unlink(path.c_str());
    if (created_dir_) ::rmdir(dir_.c_str());
  }
  Status create_dir() {
    if (::mkdir(dir_.c_str(), 0700) != 0) return errno_error("create pin directory " + dir_, errno);
    created_dir_ = true;
    return ok_status();
  }
  std::string path(const char* name) const { return dir_ + "/" + name; }
  void add(std::string path) { pins_.push_back(std::move(path)); }
  void commit() { committed_ = true; }

 private:
  std::string dir_;
  std::vector<std::string> pins_;
  bool created_dir_ = false;
  bool committed_ = false;
};

Status update_set(bpf_map* map, const std::vector<std::uint32_t>& uids, const char* what) {
  const std::uint8_t one = 1;
  for (const auto uid : uids) {
    if (bpf_map__update_elem(map, &uid, sizeof uid, &one, sizeof one, BPF_ANY) != 0) {
      return errno_error(std::string("add uid ") + std::to_string(uid) + " to " + what, errno);
    }
  }
  return ok_status();
}

Status update_prefixes(bpf_map* map, const std::vector<std::string>& prefixes, const char* what) {
  const std::uint8_t one = 1;
  for (const auto& text : prefixes) {
    auto key = parse_guard_prefix(text);
    if (!key) return Error{std::string(what) + ": " + key.error().message, EINVAL};
    if (bpf_map__update_elem(map, &key.value(), sizeof(guard_lpm_key), &one, sizeof one, BPF_ANY) !=
        0) {
      return errno_error(std::string("add ") + text + " to " + what, errno);
    }
  }
  return ok_status();
}

Status configure_maps(guard_bpf& skel, const AttachOptions& o) {
  if (auto s = update_set(skel.maps.agent_uids, o.agent_uids, "agent UIDs"); !s) return s;
  if (auto s = update_set(skel.maps.router_uids, o.router_uids, "router UIDs"); !s) return s;
  if (auto s = update_prefixes(skel.maps.resolvers, o.resolvers, "resolvers"); !s) return s;
  if (auto s = update_prefixes(skel.maps.metadata, o.metadata, "metadata prefixes"); !s) return s;
  guard_config config{};
  config.mode = static_cast<std::uint32_t>(o.mode);
  config.admin_port = o.admin_port;
  config.dns_port = 53;
  return write_config(bpf_map__fd(skel.maps.config), config);
}

Status pin_maps(guard_bpf& skel, PinTransaction& pins) {
  for (const char* name : kMapPins) {
    bpf_map* map = bpf_object__find_map_by_name(skel.obj, name);
    if (!map) return Error{std::string("map ") + name + " missing from the guard object", ENOENT};
    const auto path = pins.path(name);
    if (bpf_map__pin(map, path.c_str()) != 0) return errno_error("pin map " + path, errno);
    pins.add(path);
  }
  return ok_status();
}

Status attach_and_pin_links(guard_bpf& skel, int cgroup_fd, PinTransaction& pins,
                            std::vector<std::string>& attached) {
  for (const auto& [program_name, pin_name] : kLinkPins) {
    bpf_program* prog = bpf_object__find_program_by_name(skel.obj, program_name);
    if (!prog)
      return Error{std::string("program ") + program_name + " missing from the guard object",
                   ENOENT};
    bpf_link* link = bpf_program__attach_cgroup(prog, cgroup_fd);
    if (!link) {
      return with_libbpf_log(errno_error(
          std::string("attach ") + program_name + " (kernel without this cgroup attach type?)",
          errno));
    }
    // `link` is ours (not the skeleton's): pin it, then drop our handle; the pin keeps it attached.
    const auto path = pins.path(pin_name);
    const int pin_err = bpf_link__pin(link, path.c_str());
    if (pin_err != 0) {
      bpf_link__destroy(link);
      return errno_error("pin link " + path, -pin_err);
    }
    pins.add(path);
    bpf_link__disconnect(link);  // closing our fd must not detach a pinned link
    bpf_link__destroy(link);
    attached.emplace_back(program_name);
  }
  return ok_status();
}

}  // namespace

Status validate_guard_name(const std::string& name) {
  const bool ok =
      !name.empty() && name.size() <= 64 && name != "." && name != ".." &&
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
          std::string::npos;
  if (ok) return ok_status();
  return Error{"invalid guard name '" + name + "' (expected 1-64 characters of [A-Za-z0-9._-])",
               EINVAL};
}

GuardSupport check_guard_support() {
  if (auto s = require_privileges(); !s) return {false, s.error().message};
  if (auto root = find_cgroup2_mount(); !root) return {false, root.error().message};
  libbpf_set_print(capture_libbpf_log);
  if (auto s = require_program_types(); !s) return {false, s.error().message};
  return {true, {}};
}

Result<AttachReport> attach_guard(const AttachOptions& o) {
  libbpf_set_print(capture_libbpf_log);
  take_libbpf_log();
  if (auto s = validate_guard_name(o.name); !s) return s.error();
  if (o.agent_uids.empty()) return Error{"at least one agent UID is required", EINVAL};
  if (auto s = require_privileges(); !s) return s.error();
  auto cgroup_id = cgroup_id_of(o.cgroup_path);
  if (!cgroup_id) return cgroup_id.error();
  if (auto s = require_program_types(); !s) return s.error();
  if (auto s = ensure_bpffs(o.pin_root); !s) return s.error();
  if (::mkdir(o.pin_root.c_str(), 0700) != 0 && errno != EEXIST) {
    return errno_error("create pin root " + o.pin_root, errno);
  }
  PinTransaction pins(o.pin_root + "/" + o.name);
  if (::access(pins.path("").c_str(), F_OK) == 0) {
    return Error{"a guard named '" + o.name + "' is already attached (" + o.pin_root + "/" +
                     o.name + "); run `sallyport bpf detach --name " + o.name + "` first",
                 EEXIST};
  }

  Skeleton skel(guard_bpf__open());
  if (!skel) return with_libbpf_log(errno_error("open the guard BPF object", errno));
  if (const int err = guard_bpf__load(skel.get()); err != 0) {
    return with_libbpf_log(
        errno_error("load the guard BPF programs (verifier or kernel refused)", -err));
  }
  if (auto s = configure_maps(*skel, o); !s) return s.error();
  UniqueFd cgroup_fd(::open(o.cgroup_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup_fd.valid()) return errno_error("open cgroup " + o.cgroup_path, errno);
  if (auto s = pins.create_dir(); !s) return s.error();
  if (auto s = pin_maps(*skel, pins); !s) return s.error();
  AttachReport report{o.pin_root + "/" + o.name, cgroup_id.value(), {}};
  if (auto s = attach_and_pin_links(*skel, cgroup_fd.get(), pins, report.programs); !s)
    return s.error();
  pins.commit();
  return report;
}

Status detach_guard(const std::string& pin_root, const std::string& name) {
  if (auto s = validate_guard_name(name); !s) return s;
  const std::string dir = pin_root + "/" + name;
  if (::access(dir.c_str(), F_OK) != 0) {
    return Error{"no guard named '" + name + "' under " + pin_root + " (nothing to detach)",
                 ENOENT};
  }
  std::string failures;
  auto remove = [&](const char* pin) {
    const auto path = dir + "/" + pin;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      failures += " " + path + ": " + std::strerror(errno);
  };
  for (const auto& link : kLinkPins) remove(link.pin_name);  // links first: programs stop at once
  for (const char* map : kMapPins) remove(map);
  if (::rmdir(dir.c_str()) != 0) failures += " " + dir + ": " + std::strerror(errno);
  ::rmdir(pin_root.c_str());  // only succeeds when no other guard is left; that is intended
  if (!failures.empty()) return Error{"detach left pins behind:" + failures, EIO};
  return ok_status();
}

}  // namespace sallyport::bpf

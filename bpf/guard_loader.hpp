#pragma once
// Kernel guard loader: attaches the cgroup programs of guard.bpf.c to one cgroup v2 directory and
// pins links and maps under <pin_root>/<name>/ so that the attaching process (an init container)
// may exit, and `status`, `quarantine`, `detach` and the router's event reader can reopen them.
//
// Pin layout (<pin_root>/<name>/):
//   link_connect4 link_connect6 link_sendmsg4 link_sendmsg6 link_sock_create link_skb_egress
//   config agent_uids router_uids resolvers metadata quarantine counters events
// attach -> every pin or nothing (one cleanup path); detach -> removes exactly these pins and the
// directory, which drops the last reference to every link, program and map.
//
// All functions need root or CAP_BPF + CAP_NET_ADMIN (+ CAP_SYS_ADMIN to mount bpffs) and return
// errors that say what is missing.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bpf/guard_types.hpp"
#include "bpf/result.hpp"

namespace sallyport::bpf {

inline constexpr const char* kDefaultPinRoot = "/sys/fs/bpf/sallyport";
inline constexpr const char* kDefaultGuardName = "default";

struct AttachOptions {
  std::string cgroup_path;               // cgroup v2 directory; required
  std::string name = kDefaultGuardName;  // pin sub-directory; [A-Za-z0-9._-]{1,64}
  std::string pin_root = kDefaultPinRoot;
  std::vector<std::uint32_t> agent_uids = {1000};
  std::vector<std::uint32_t> router_uids = {1001};
  std::vector<std::string> resolvers;  // "IP" or "IP/len"; agents may use port 53 there
  std::vector<std::string> metadata = default_metadata_prefixes();
  GuardMode mode = GuardMode::enforce;
  std::uint16_t admin_port = 8787;  // loopback port refused to agents; 0 = none
};

struct AttachReport {
  std::string pin_dir;
  std::uint64_t cgroup_id = 0;
  std::vector<std::string> programs;  // program names attached
};

// Whether this process can use the kernel guard at all; `ok` false comes with the reason. Used
// by the router to warn once and run degraded (userspace policy only).
struct GuardSupport {
  bool ok = false;
  std::string reason;  // empty when ok
};
GuardSupport check_guard_support();

Result<AttachReport> attach_guard(const AttachOptions& options);

// Removes every pin of guard `name` and its directory (and pin_root when it ends up empty).
// Error when nothing was attached under that name.
Status detach_guard(const std::string& pin_root, const std::string& name);

struct GuardLinkInfo {
  std::string program;      // e.g. "guard_connect4"
  std::string attach_type;  // e.g. "cgroup_inet4_connect"
  std::uint32_t link_id = 0;
  std::uint32_t prog_id = 0;
  std::uint64_t cgroup_id = 0;
  std::string cgroup_path;  // relative to the cgroup2 root; "" if the cgroup is gone
};

struct GuardCounterRow {
  std::string hook;    // guard_hook_name
  std::string reason;  // guard_reason_name
  std::uint64_t denied = 0;
  std::uint64_t observed = 0;
};

struct GuardStatus {
  std::string name;
  std::string pin_dir;
  GuardMode mode = GuardMode::off;
  std::uint16_t admin_port = 0;
  std::vector<std::uint32_t> agent_uids;
  std::vector<std::uint32_t> router_uids;
  std::vector<std::string> resolvers;
  std::vector<std::string> metadata;
  std::vector<GuardLinkInfo> links;
  std::vector<GuardCounterRow> counters;  // non-zero rows only
  std::uint64_t events_lost = 0;
  std::vector<std::uint64_t> quarantined_cgroups;
};

// Status of every guard under pin_root (or only `name`). Empty vector when none is attached.
Result<std::vector<GuardStatus>> read_guard_status(const std::string& pin_root,
                                                   const std::optional<std::string>& name);

// Sets or clears the quarantine flag for `cgroup_path` in guard `name`, or, without a name, in
// every guard whose attached cgroup is that cgroup or one of its parents. Returns the guards
// changed; error when none covers the cgroup.
Result<std::vector<std::string>> set_guard_quarantine(const std::string& pin_root,
                                                      const std::optional<std::string>& name,
                                                      const std::string& cgroup_path, bool on);

// Changes the mode of an attached guard in place.
Status set_guard_mode(const std::string& pin_root, const std::string& name, GuardMode mode);

// Validates a guard name (it becomes a directory under pin_root).
Status validate_guard_name(const std::string& name);

}  // namespace sallyport::bpf

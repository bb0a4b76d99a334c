#pragma once
// cgroup v2 helpers and "which pod did this?" attribution for kernel-guard events.
//
// A deny event carries the cgroup id (== inode number of the cgroup2 directory). Attribution
// finds that directory under the cgroup2 mount, parses a Kubernetes pod cgroup path out of it
// (cgroupfs `/kubepods/burstable/pod<uid>/<container>` and systemd
// `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_with_underscores>.slice/
// cri-containerd-<id>.scope` forms), and maps it to {tenant, namespace, pod} from config: an exact
// or parent cgroup path entry first, then the pod UID, then the sidecar's own identity.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "bpf/result.hpp"

namespace sallyport::bpf {

struct PodIdentity {
  std::string tenant;
  std::string namespace_name;
  std::string pod;
  bool operator==(const PodIdentity&) const = default;
};

// What a Kubernetes cgroup path says about the pod.
struct KubePodRef {
  std::string pod_uid;  // canonical dashed form: 3f1b2c4d-0000-4a6b-9c1d-0123456789ab
  std::string qos;      // "guaranteed", "burstable" or "besteffort"
  std::string
      container_id;  // runtime id without the "cri-containerd-"/"docker-"… prefix; may be ""
  bool operator==(const KubePodRef&) const = default;
};

// Parses a cgroup path (absolute or relative to the cgroup2 mount). nullopt when the path holds
// no `kubepods` segment followed by a well-formed pod segment.
std::optional<KubePodRef> parse_kube_cgroup_path(std::string_view path);

// Mount point of the cgroup2 hierarchy, read from a mounts table (/proc/mounts format). Works on
// unified (/sys/fs/cgroup) and hybrid (/sys/fs/cgroup/unified) layouts.
Result<std::string> find_cgroup2_mount(const std::string& mounts_file = "/proc/mounts");

// Cgroup id of a cgroup2 directory. Error when the path is missing or not on cgroup2.
Result<std::uint64_t> cgroup_id_of(const std::string& path);

// Directory under `cgroup2_root` whose cgroup id is `id`, relative to the root with a leading
// "/" ("/" for the root itself); nullopt when no such cgroup exists (any more).
std::optional<std::string> find_cgroup_path_by_id(const std::string& cgroup2_root,
                                                  std::uint64_t id);

struct AttributionConfig {
  std::string cgroup2_root;      // "" = find_cgroup2_mount()
  PodIdentity default_identity;  // the sidecar's own identity (DESIGN: identity from config)
  std::map<std::string, PodIdentity> by_pod_uid;      // dashed pod UID -> identity
  std::map<std::string, PodIdentity> by_cgroup_path;  // cgroup path (relative, "/"-led) or parent
};

struct Attribution {
  std::uint64_t cgroup_id = 0;
  std::string cgroup_path;  // relative to the cgroup2 root; "" when the cgroup is gone
  std::optional<KubePodRef> kube;
  PodIdentity identity;  // fields never empty: "unknown" stands in
};

// Pure mapping used by CgroupAttributor (exposed for tests): config lookups in the order above.
Attribution attribute_cgroup_path(const AttributionConfig& config, std::uint64_t cgroup_id,
                                  std::string cgroup_path);

// Caching attributor for the event reader. Not thread-safe; one per reader thread.
class CgroupAttributor {
 public:
  explicit CgroupAttributor(AttributionConfig config);
  const Attribution& attribute(std::uint64_t cgroup_id);

 private:
  AttributionConfig config_;
  std::unordered_map<std::uint64_t, Attribution> cache_;
};

}  // namespace sallyport::bpf

#include "bpf/cgroup_attribution.hpp"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace sallyport::bpf {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  while (!path.empty()) {
    const auto slash = path.find('/');
    const auto segment = path.substr(0, slash);
    if (!segment.empty()) segments.push_back(segment);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

bool strip_suffix(std::string_view& s, std::string_view suffix) {
  if (!s.ends_with(suffix)) return false;
  s.remove_suffix(suffix.size());
  return true;
}

// "3f1b2c4d_0000_…" or "3f1b2c4d-0000-…" -> dashed lower-case UID; "" if malformed.
std::string canonical_pod_uid(std::string_view raw) {
  std::string uid;
  for (char c : raw) {
    if (c == '_') c = '-';
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    if (!hex && c != '-') return {};
    uid.push_back(c);
  }
  return uid.size() >= 8 && uid.size() <= 64 ? uid : std::string{};
}

// Pod segment: "pod<uid>" (cgroupfs) or "kubepods[-<qos>]-pod<uid>.slice" (systemd).
std::optional<std::string> pod_uid_of_segment(std::string_view segment) {
  strip_suffix(segment, ".slice");
  const auto at = segment.rfind("pod");
  if (at == std::string_view::npos) return std::nullopt;
  if (at != 0 && !(segment.starts_with("kubepods") && segment[at - 1] == '-')) return std::nullopt;
  auto uid = canonical_pod_uid(segment.substr(at + 3));
  if (uid.empty()) return std::nullopt;
  return uid;
}

std::string container_id_of_segment(std::string_view segment) {
  strip_suffix(segment, ".scope");
  for (std::string_view prefix :
       {"cri-containerd-", "crio-conmon-", "crio-", "docker-", "containerd-"}) {
    if (segment.starts_with(prefix)) {
      segment.remove_prefix(prefix.size());
      break;
    }
  }
  return std::string(segment);
}

std::string qos_of_segment(std::string_view segment) {
  for (std::string_view qos : {"burstable", "besteffort"}) {
    if (segment.find(qos) != std::string_view::npos) return std::string(qos);
  }
  return {};
}

}  // namespace

std::optional<KubePodRef> parse_kube_cgroup_path(std::string_view path) {
  const auto segments = split_path(path);
  bool in_kubepods = false;
  std::string qos;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const auto segment = segments[i];
    if (!in_kubepods) {
      in_kubepods = segment.starts_with("kubepods");
      if (!in_kubepods) continue;
    }
    if (auto q = qos_of_segment(segment); !q.empty() && qos.empty()) qos = q;
    if (auto uid = pod_uid_of_segment(segment)) {
      KubePodRef ref{*uid, qos.empty() ? "guaranteed" : qos, {}};
      if (i + 1 < segments.size()) ref.container_id = container_id_of_segment(segments[i + 1]);
      return ref;
    }
  }
  return std::nullopt;
}

Result<std::string> find_cgroup2_mount(const std::string& mounts_file) {
  std::ifstream mounts(mounts_file);
  if (!mounts) return errno_error("cannot read " + mounts_file, errno ? errno : ENOENT);
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string device, mount_point, fs_type;
    if (fields >> device >> mount_point >> fs_type && fs_type == "cgroup2") return mount_point;
  }
  return Error{"no cgroup2 filesystem in " + mounts_file +
                   " (the kernel guard needs cgroup v2: unified or hybrid hierarchy)",
               ENOENT};
}

Result<std::uint64_t> cgroup_id_of(const std::string& path) {
  struct statfs fs {};
  if (statfs(path.c_str(), &fs) != 0) return errno_error("cgroup path " + path, errno);
  if (fs.f_type != CGROUP2_SUPER_MAGIC) {
    return Error{"cgroup path " + path +
                     " is not on a cgroup v2 filesystem (expected a directory "
                     "under the cgroup2 mount, see `grep cgroup2 /proc/mounts`)",
                 ENOTSUP};
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return errno_error("cgroup path " + path, errno);
  if (!S_ISDIR(st.st_mode)) return Error{"cgroup path " + path + " is not a directory", ENOTDIR};
  return static_cast<std::uint64_t>(st.st_ino);
}

std::optional<std::string> find_cgroup_path_by_id(const std::string& cgroup2_root,
                                                  std::uint64_t id) {
  namespace fs = std::filesystem;
  struct stat st {};
  if (stat(cgroup2_root.c_str(), &st) == 0 && st.st_ino == id) return std::string("/");
  std::error_code ec;
  fs::recursive_directory_iterator it(cgroup2_root, fs::directory_options::skip_permission_denied,
                                      ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_directory(ec) || it->is_symlink(ec)) continue;
    if (stat(it->path().c_str(), &st) == 0 && st.st_ino == id) {
      return "/" + fs::relative(it->path(), cgroup2_root, ec).string();
    }
  }
  return std::nullopt;
}

namespace {

// Longest configured cgroup path equal to `path` or a parent of it.
const PodIdentity* match_cgroup_path(const AttributionConfig& config, std::string_view path) {
  const PodIdentity* best = nullptr;
  std::size_t best_len = 0;
  for (const auto& [prefix, identity] : config.by_cgroup_path) {
    std::string_view p = prefix;
    while (p.size() > 1 && p.ends_with('/')) p.remove_suffix(1);
    const bool matches = path == p || (path.starts_with(p) && path.size() > p.size() &&
                                       (path[p.size()] == '/' || p == "/"));
    if (matches && p.size() >= best_len) {
      best = &identity;
      best_len = p.size();
    }
  }
  return best;
}

void fill_unknown(PodIdentity& identity) {
  for (std::string* field : {&identity.tenant, &identity.namespace_name, &identity.pod}) {
    if (field->empty()) *field = "unknown";
  }
}

}  // namespace

Attribution attribute_cgroup_path(const AttributionConfig& config, std::uint64_t cgroup_id,
                                  std::string cgroup_path) {
  Attribution out;
  out.cgroup_id = cgroup_id;
  out.cgroup_path = std::move(cgroup_path);
  out.kube = parse_kube_cgroup_path(out.cgroup_path);
  if (const auto* by_path =
          out.cgroup_path.empty() ? nullptr : match_cgroup_path(config, out.cgroup_path)) {
    out.identity = *by_path;
  } else if (auto it =
                 out.kube ? config.by_pod_uid.find(out.kube->pod_uid) : config.by_pod_uid.end();
             it != config.by_pod_uid.end()) {
    out.identity = it->second;
  } else {
    out.identity = config.default_identity;
    if (out.identity.pod.empty() && out.kube) out.identity.pod = "pod-uid:" + out.kube->pod_uid;
  }
  fill_unknown(out.identity);
  return out;
}

CgroupAttributor::CgroupAttributor(AttributionConfig config) : config_(std::move(config)) {
  if (config_.cgroup2_root.empty()) {
    if (auto root = find_cgroup2_mount()) config_.cgroup2_root = root.value();
  }
}

const Attribution& CgroupAttributor::attribute(std::uint64_t cgroup_id) {
  if (auto it = cache_.find(cgroup_id); it != cache_.end()) return it->second;
  constexpr std::size_t kMaxCached = 4096;  // ids are never reused; bound memory, not correctness
  if (cache_.size() >= kMaxCached) cache_.clear();
  std::string path;
  if (!config_.cgroup2_root.empty()) {
    path = find_cgroup_path_by_id(config_.cgroup2_root, cgroup_id).value_or("");
  }
  return cache_.emplace(cgroup_id, attribute_cgroup_path(config_, cgroup_id, std::move(path)))
      .first->second;
}

}  // namespace sallyport::bpf

#include <gtest/gtest.h>

#include <fstream>

#include "bpf/cgroup_attribution.hpp"

namespace sallyport::bpf {
namespace {

constexpr const char* kUid = "3f1b2c4d-0000-4a6b-9c1d-0123456789ab";

TEST(ParseKubeCgroupPath, CgroupfsDriverBurstable) {
  const auto ref = parse_kube_cgroup_path(std::string("/kubepods/burstable/pod") + kUid +
                                          "/0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->pod_uid, kUid);
  EXPECT_EQ(ref->qos, "burstable");
  EXPECT_EQ(ref->container_id, "0123456789abcdef0123456789abcdef");
}

TEST(ParseKubeCgroupPath, SystemdDriverWithUnderscoresAndContainerScope) {
  const auto ref = parse_kube_cgroup_path(
      "/kubepods.slice/kubepods-besteffort.slice/"
      "kubepods-besteffort-pod3f1b2c4d_0000_4a6b_9c1d_0123456789ab.slice/"
      "cri-containerd-abc123.scope");
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->pod_uid, kUid);
  EXPECT_EQ(ref->qos, "besteffort");
  EXPECT_EQ(ref->container_id, "abc123");
}

TEST(ParseKubeCgroupPath, GuaranteedPodSitsDirectlyUnderKubepods) {
  const auto ref = parse_kube_cgroup_path(std::string("kubepods.slice/kubepods-pod") +
                                          "3f1b2c4d_0000_4a6b_9c1d_0123456789ab.slice");
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->qos, "guaranteed");
  EXPECT_EQ(ref->container_id, "");
}

TEST(ParseKubeCgroupPath, NestedUnderATestRoot) {
  const auto ref = parse_kube_cgroup_path(std::string("/sallyport-test-1/kubepods/pod") + kUid);
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->pod_uid, kUid);
}

TEST(ParseKubeCgroupPath, RejectsNonPodPaths) {
  EXPECT_FALSE(parse_kube_cgroup_path("/"));
  EXPECT_FALSE(parse_kube_cgroup_path("/system.slice/sshd.service"));
  EXPECT_FALSE(parse_kube_cgroup_path("/kubepods/burstable"));
  // "pod" segments outside kubepods, and malformed UIDs, are not pods.
  EXPECT_FALSE(parse_kube_cgroup_path(std::string("/user.slice/pod") + kUid));
  EXPECT_FALSE(parse_kube_cgroup_path("/kubepods/burstable/podNOT-A-UID"));
  EXPECT_FALSE(parse_kube_cgroup_path("/kubepods/burstable/pod"));
  EXPECT_FALSE(parse_kube_cgroup_path("/kubepods/burstable/pod../../etc"));
}

TEST(AttributeCgroupPath, ConfigPathBeatsPodUidBeatsDefault) {
  AttributionConfig config;
  config.default_identity = {"acme", "agents", "self"};
  config.by_pod_uid[kUid] = {"acme", "research", "agent-7"};
  config.by_cgroup_path["/special"] = {"beta", "ops", "runner"};
  const std::string pod_path = std::string("/kubepods/burstable/pod") + kUid + "/ctr";

  auto by_uid = attribute_cgroup_path(config, 9, pod_path);
  EXPECT_EQ(by_uid.identity, (PodIdentity{"acme", "research", "agent-7"}));
  EXPECT_EQ(by_uid.cgroup_id, 9u);

  auto by_path = attribute_cgroup_path(config, 10, "/special/child");
  EXPECT_EQ(by_path.identity, (PodIdentity{"beta", "ops", "runner"}));
  // A sibling sharing the prefix text is not a child.
  auto sibling = attribute_cgroup_path(config, 11, "/specialist");
  EXPECT_EQ(sibling.identity, config.default_identity);
}

TEST(AttributeCgroupPath, UnmappedPodGetsItsUidAndGoneCgroupGetsUnknown) {
  AttributionConfig config;
  auto pod = attribute_cgroup_path(config, 1, std::string("/kubepods/pod") + kUid);
  EXPECT_EQ(pod.identity.pod, std::string("pod-uid:") + kUid);
  EXPECT_EQ(pod.identity.tenant, "unknown");
  auto gone = attribute_cgroup_path(config, 2, "");
  EXPECT_EQ(gone.identity, (PodIdentity{"unknown", "unknown", "unknown"}));
  EXPECT_FALSE(gone.kube.has_value());
}

TEST(FindCgroup2Mount, ReadsHybridAndUnifiedLayouts) {
  const std::string file = ::testing::TempDir() + "/mounts";
  std::ofstream(file) << "tmpfs /sys/fs/cgroup tmpfs rw 0 0\n"
                         "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n"
                         "cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n";
  auto root = find_cgroup2_mount(file);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root.value(), "/sys/fs/cgroup/unified");

  std::ofstream(file) << "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n";
  auto none = find_cgroup2_mount(file);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("cgroup v2"), std::string::npos);
}

TEST(CgroupIdOf, RejectsPathsOutsideCgroup2) {
  auto id = cgroup_id_of(::testing::TempDir());
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.error().message.find("not on a cgroup v2"), std::string::npos);
  EXPECT_FALSE(cgroup_id_of("/nonexistent/sallyport").ok());
}

}  // namespace
}  // namespace sallyport::bpf

#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bpf/probe.hpp"

namespace sallyport::bpf {
namespace {

TEST(ClassifyProbe, ErrnoDecidesVerdictAndBlocker) {
  EXPECT_EQ(classify_probe("a", "t", 0, false, false, "").verdict, ProbeVerdict::allowed);
  auto refused = classify_probe("a", "t", ECONNREFUSED, false, false, "");
  EXPECT_EQ(refused.verdict, ProbeVerdict::allowed);  // the peer answered: the packet got out
  EXPECT_EQ(refused.blocker, "none");
  auto eperm = classify_probe("a", "t", EPERM, false, false, "");
  EXPECT_EQ(eperm.verdict, ProbeVerdict::blocked);
  EXPECT_EQ(eperm.blocker, "kernel-guard");
  auto timeout = classify_probe("a", "t", ETIMEDOUT, false, false, "");
  EXPECT_EQ(timeout.verdict, ProbeVerdict::blocked);
  EXPECT_EQ(timeout.blocker, "network");
}

TEST(ClassifyProbe, RawSocketEpermWithoutCapabilityIsNotCreditedToTheGuard) {
  EXPECT_EQ(classify_probe("raw", "t", EPERM, true, false, "").blocker, "no-cap-net-raw");
  EXPECT_EQ(classify_probe("raw", "t", EPERM, true, true, "").blocker, "kernel-guard");
}

TEST(ProbeOutput, TableAndJsonCarryEveryRow) {
  std::vector<ProbeResult> rows = {
      classify_probe("imds-tcp", "169.254.169.254:80", EPERM, false, false, "connect"),
      classify_probe("loopback-tcp", "127.0.0.1:9", ECONNREFUSED, false, false, "")};
  const auto table = format_probe_table(rows);
  EXPECT_NE(table.find("imds-tcp     | 169.254.169.254:80 | BLOCKED | EPERM        | kernel-guard"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("ECONNREFUSED"), std::string::npos);
  const auto json = nlohmann::json::parse(format_probe_json(rows, 1000));
  EXPECT_EQ(json["uid"], 1000);
  ASSERT_EQ(json["results"].size(), 2u);
  EXPECT_EQ(json["results"][0]["result"], "BLOCKED");
  EXPECT_EQ(json["results"][0]["errno"], "EPERM");
  EXPECT_EQ(json["results"][1]["result"], "ALLOWED");
}

TEST(FirstNameserver, SkipsCommentsAndOtherKeys) {
  const std::string file = ::testing::TempDir() + "/resolv.conf";
  std::ofstream(file)
      << "# comment\nsearch svc.cluster.local\nnameserver 10.96.0.10\nnameserver 8.8.8.8\n";
  EXPECT_EQ(first_nameserver(file), "10.96.0.10");
  EXPECT_EQ(first_nameserver("/nonexistent/resolv.conf"), "");
}

}  // namespace
}  // namespace sallyport::bpf

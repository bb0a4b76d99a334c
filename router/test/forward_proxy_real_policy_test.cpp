// The forward proxy with the real blocklist policy (blocklist::build_egress_policy) instead of
// the test fake: the deny reasons a user sees come from the real canonicalisation and CIDR sets.
// allow_cidrs opens 127.0.0.2/32 explicitly for the loopback test upstreams; 127.0.0.1 stays
// denied (ip:loopback) and a trap listener there proves nothing connects to it.
#include "blocklist/policy.hpp"
#include "router/test/proxy_test_support.hpp"

#include <gtest/gtest.h>

namespace sallyport::router::test {
namespace {

class ForwardProxyRealPolicyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ca_ = new TestCa(TestCa::create({"www.allowed.test"}));
    servers_ = new UpstreamServers("127.0.0.2", *ca_);
    servers_->add_trap("127.0.0.1", servers_->http_port());
    dns_ = new DnsTestServer({{"www.allowed.test", {"127.0.0.2"}},
                              {"imds.rebind.test", {"169.254.169.254"}},
                              {"loop.rebind.test", {"127.0.0.1"}},
                              {"private.rebind.test", {"10.1.2.3"}}});
  }
  static void TearDownTestSuite() {
    delete dns_;
    delete servers_;
    std::filesystem::remove_all(ca_->dir);
    delete ca_;
  }
  static std::shared_ptr<const blocklist::EgressPolicy> policy() {
    blocklist::EgressPolicyOptions o;
    o.deny = {"blocked.test"};
    o.allow_cidrs = {"127.0.0.2/32"};
    return blocklist::build_egress_policy(o, {});
  }
  static ProxyOptions options() {
    auto o = test_options(*servers_);
    o.resolvers = {dns_->address()};
    return o;
  }
  std::string proxy_url(const ProxyHarness& h) const { return "http://127.0.0.1:" + std::to_string(h.port()); }
  std::string http_url(const std::string& host) const {
    return "http://" + host + ":" + std::to_string(servers_->http_port()) + "/";
  }
  static TestCa* ca_;
  static UpstreamServers* servers_;
  static DnsTestServer* dns_;
};
TestCa* ForwardProxyRealPolicyTest::ca_ = nullptr;
UpstreamServers* ForwardProxyRealPolicyTest::servers_ = nullptr;
DnsTestServer* ForwardProxyRealPolicyTest::dns_ = nullptr;

TEST_F(ForwardProxyRealPolicyTest, AllowedHostsWorkOverHttpAndHttps) {
  ProxyHarness h(options(), policy());
  auto r = run_curl({"--noproxy", "", "-x", proxy_url(h), http_url("www.allowed.test")});
  EXPECT_EQ(r.http_code, 200) << r.stderr_text;
  auto t = run_curl({"--noproxy", "", "-x", proxy_url(h), "--cacert", ca_->ca_pem.string(),
                     "https://www.allowed.test:" + std::to_string(servers_->tls_port()) + "/"});
  EXPECT_EQ(t.http_code, 200) << t.stderr_text;
  EXPECT_EQ(t.body, "hello from tls\n");
}

TEST_F(ForwardProxyRealPolicyTest, DenyReasonsComeFromThePolicy) {
  ProxyHarness h(options(), policy());
  struct Case { std::string host; const char* reason; };
  const Case cases[] = {
      {"blocked.test", "denylist"},        {"a.blocked.test", "denylist"},
      {"198.51.100.7", "ip:literal"},      {"2852039166", "ip:metadata"},
      {"0251.0376.0251.0376", "ip:metadata"}, {"0xa9fea9fe", "ip:metadata"},
      {"169.254.43518", "ip:metadata"},    {"[::ffff:169.254.169.254]", "ip:metadata"},
      {"[::ffff:a9fe:a9fe]", "ip:metadata"}, {"imds.rebind.test", "ip:metadata"},
      {"loop.rebind.test", "ip:loopback"}, {"private.rebind.test", "ip:private"},
  };
  auto traps = servers_->trap_accepts();
  for (const auto& c : cases) {
    RawClient client(h.port());
    client.send("GET " + http_url(c.host) + " HTTP/1.1\r\nHost: x\r\n\r\n");
    auto head = client.read_head();
    EXPECT_EQ(status_code(head), 403) << c.host << "\n" << head;
    EXPECT_EQ(header_value(head, "X-Sallyport-Deny"), c.reason) << c.host;
  }
  EXPECT_EQ(h.histogram_count("sallyport_egress_upstream_connect_seconds"), 0u);
  EXPECT_EQ(servers_->trap_accepts(), traps);
}

}  // namespace
}  // namespace sallyport::router::test

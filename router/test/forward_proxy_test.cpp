// The forward proxy end to end: ForwardProxy on 127.0.0.1:0, upstream servers on 127.0.0.2,
// a python3 test DNS server, real curl and raw sockets. The fake policy allows 127.0.0.2/32
// explicitly (loopback is denied by default); everything else on loopback stays denied, and a
// trap listener on 127.0.0.1 proves denied destinations are never connected to.
#include "common/log.hpp"
#include "router/test/proxy_test_support.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace sallyport::router::test {
namespace {

constexpr const char* upstream_ip = "127.0.0.2";

class ForwardProxyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ca_ = new TestCa(TestCa::create({"www.allowed.test"}));
    servers_ = new UpstreamServers(upstream_ip, *ca_);
    servers_->add_trap("127.0.0.1", servers_->http_port());
    servers_->add_trap("127.0.0.1", servers_->tls_port());
    dns_ = new DnsTestServer({{"www.allowed.test", {upstream_ip}},
                              {"imds.rebind.test", {"169.254.169.254"}},
                              {"loop.rebind.test", {"127.0.0.1"}},
                              {"mixed.rebind.test", {upstream_ip, "127.0.0.1"}}});
  }
  static void TearDownTestSuite() {
    delete dns_;
    delete servers_;
    std::filesystem::remove_all(ca_->dir);
    delete ca_;
  }

  static std::shared_ptr<FakeEgressPolicy> policy() {
    auto p = std::make_shared<FakeEgressPolicy>();
    p->blocked = {"blocked.test"};
    p->allow_cidrs = {"127.0.0.2/32"};  // the test upstreams; 127.0.0.1 stays denied
    return p;
  }
  static ProxyOptions options() {
    auto o = test_options(*servers_);
    o.resolvers = {dns_->address()};
    return o;
  }
  std::string proxy_url(const ProxyHarness& h) const { return "http://127.0.0.1:" + std::to_string(h.port()); }
  std::string http_url(const std::string& host, const std::string& path = "/") const {
    return "http://" + host + ":" + std::to_string(servers_->http_port()) + path;
  }

  static TestCa* ca_;
  static UpstreamServers* servers_;
  static DnsTestServer* dns_;
};
TestCa* ForwardProxyTest::ca_ = nullptr;
UpstreamServers* ForwardProxyTest::servers_ = nullptr;
DnsTestServer* ForwardProxyTest::dns_ = nullptr;

TEST_F(ForwardProxyTest, CurlHttpsThroughConnectReachesTheTlsServer) {
  ProxyHarness h(options(), policy());
  auto r = run_curl({"--noproxy", "", "-x", proxy_url(h), "--cacert", ca_->ca_pem.string(),
                     "https://www.allowed.test:" + std::to_string(servers_->tls_port()) + "/tls"});
  EXPECT_EQ(r.http_code, 200) << r.stderr_text;
  EXPECT_EQ(r.connect_code, 200);
  EXPECT_EQ(r.body, "hello from tls\n");
  ASSERT_TRUE(h.wait_for_events(1));
  auto event = h.events().at(0);
  EXPECT_TRUE(event.allowed);
  EXPECT_EQ(event.method, "CONNECT");
  EXPECT_EQ(event.host, "www.allowed.test");
  EXPECT_GT(event.bytes_up, 0u);
  EXPECT_GT(event.bytes_down, 0u);
  EXPECT_EQ(h.counter("sallyport_egress_decisions_total", {{"decision", "allow"}}), 1);
  EXPECT_GT(h.counter("sallyport_egress_bytes_total", {{"direction", "down"}}), 0);
}

TEST_F(ForwardProxyTest, CurlHttpAbsoluteFormIsRewrittenToOriginForm) {
  ProxyHarness h(options(), policy());
  auto before = servers_->requests().size();
  auto r = run_curl({"--noproxy", "", "-x", proxy_url(h), "--proxy-header", "Proxy-Authorization: Bearer x",
                     "-H", "Connection: X-Hop", "-H", "X-Hop: secret", http_url("www.allowed.test", "/p?q=1")});
  EXPECT_EQ(r.http_code, 200) << r.stderr_text;
  EXPECT_EQ(r.body, "hello from http /p?q=1\n");
  EXPECT_NE(header_value(r.headers, "Via").find("1.1 sallyport"), std::string::npos);
  auto seen = servers_->requests();
  ASSERT_EQ(seen.size(), before + 1);
  const auto& head = seen.back();
  EXPECT_EQ(head.substr(0, head.find("\r\n")), "GET /p?q=1");
  EXPECT_EQ(header_value(head, "Via"), "1.1 sallyport");
  EXPECT_EQ(header_value(head, "Host"), "www.allowed.test:" + std::to_string(servers_->http_port()));
  EXPECT_EQ(header_value(head, "Proxy-Authorization"), "");
  EXPECT_EQ(header_value(head, "Proxy-Connection"), "");
  EXPECT_EQ(header_value(head, "X-Hop"), "");
}

TEST_F(ForwardProxyTest, EveryKeepAliveRequestIsCheckedAgain) {
  ProxyHarness h(options(), policy());
  RawClient c(h.port());
  ASSERT_TRUE(c.send("GET " + http_url("www.allowed.test", "/one") + " HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto first = c.read_head();
  ASSERT_EQ(status_code(first), 200) << first;
  c.read_exact(std::stoul(header_value(first, "Content-Length")));
  ASSERT_TRUE(c.send("GET " + http_url("sub.blocked.test", "/two") + " HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto second = c.read_head();
  EXPECT_EQ(status_code(second), 403) << second;
  EXPECT_EQ(header_value(second, "X-Sallyport-Deny"), "blocklist:test");
  EXPECT_EQ(header_value(second, "Connection"), "close");
  EXPECT_TRUE(c.closed_by_peer() || !c.read_until_close().empty());
  auto events = h.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[0].allowed);
  EXPECT_FALSE(events[1].allowed);
  EXPECT_EQ(events[0].client, events[1].client);  // same client connection
}

TEST_F(ForwardProxyTest, BlockedDomainAnswers403WithReasonForBothForms) {
  ProxyHarness h(options(), policy());
  auto accepts = servers_->accepts();
  auto r = run_curl({"--noproxy", "", "-x", proxy_url(h), http_url("blocked.test")});
  EXPECT_EQ(r.http_code, 403);
  EXPECT_EQ(header_value(r.headers, "X-Sallyport-Deny"), "blocklist:test");
  EXPECT_EQ(r.body, "sallyport: denied (blocklist:test)\n");
  auto t = run_curl({"--noproxy", "", "-x", proxy_url(h), "--cacert", ca_->ca_pem.string(),
                     "https://blocked.test:" + std::to_string(servers_->tls_port()) + "/"});
  EXPECT_EQ(t.connect_code, 403);
  EXPECT_NE(t.headers.find("X-Sallyport-Deny: blocklist:test"), std::string::npos) << t.headers;
  EXPECT_EQ(servers_->accepts(), accepts);
  EXPECT_EQ(h.counter("sallyport_egress_decisions_total", {{"decision", "deny"}, {"reason", "blocklist:test"}}), 2);
}

// The canonical "egress" line: denials always at info; plain allows only at debug (the audit
// event and decisions_total still record every allow).
TEST_F(ForwardProxyTest, EgressLogLineIsInfoForDenialsAndDebugForAllows) {
  const auto path = make_temp_dir("proxy-log") / "log.jsonl";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  log::set_output_fd(fd);
  log::configure(log::Format::json, log::Level::info);
  {
    ProxyHarness h(options(), policy());
    EXPECT_EQ(run_curl({"--noproxy", "", "-x", proxy_url(h), http_url("www.allowed.test")}).http_code, 200);
    EXPECT_EQ(run_curl({"--noproxy", "", "-x", proxy_url(h), http_url("blocked.test")}).http_code, 403);
    EXPECT_TRUE(h.wait_for_events(2));
    log::configure(log::Format::json, log::Level::debug);
    EXPECT_EQ(run_curl({"--noproxy", "", "-x", proxy_url(h), http_url("www.allowed.test", "/d")}).http_code, 200);
    EXPECT_TRUE(h.wait_for_events(3));
  }
  log::configure(log::Format::json, log::Level::info);
  log::set_output_fd(STDOUT_FILENO);
  ::close(fd);
  std::ifstream in(path);
  std::vector<std::string> egress;
  for (std::string line; std::getline(in, line);)
    if (line.find("\"msg\":\"egress\"") != std::string::npos) egress.push_back(line);
  ASSERT_EQ(egress.size(), 2u);
  EXPECT_NE(egress[0].find("\"level\":\"info\""), std::string::npos) << egress[0];
  EXPECT_NE(egress[0].find("\"reason\":\"blocklist:test\""), std::string::npos) << egress[0];
  EXPECT_NE(egress[1].find("\"level\":\"debug\""), std::string::npos) << egress[1];
  EXPECT_NE(egress[1].find("\"decision\":\"allow\""), std::string::npos) << egress[1];
}

TEST_F(ForwardProxyTest, BareIpIsDeniedAsLiteral) {
  ProxyHarness h(options(), policy());
  auto r = run_curl({"--noproxy", "", "-x", proxy_url(h), http_url("198.51.100.7")});
  EXPECT_EQ(r.http_code, 403);
  EXPECT_EQ(header_value(r.headers, "X-Sallyport-Deny"), "ip:literal");
  EXPECT_EQ(h.histogram_count("sallyport_egress_upstream_connect_seconds"), 0u);
}

TEST_F(ForwardProxyTest, EverySpellingOfMetadataIsDeniedWithoutConnecting) {
  ProxyHarness h(options(), policy());
  const std::string http_port = std::to_string(servers_->http_port());
  const std::string tls_port = std::to_string(servers_->tls_port());
  for (std::string spelling : {"169.254.169.254", "2852039166", "0251.0376.0251.0376", "0xa9fea9fe",
                               "169.254.43518", "0xA9.0xFE.0xA9.0xFE", "[::ffff:169.254.169.254]",
                               "[::ffff:a9fe:a9fe]", "169.254.169.254."}) {
    RawClient get(h.port());
    get.send("GET http://" + spelling + ":" + http_port + "/latest/meta-data/ HTTP/1.1\r\nHost: x\r\n\r\n");
    auto head = get.read_head();
    EXPECT_EQ(status_code(head), 403) << spelling << "\n" << head;
    EXPECT_EQ(header_value(head, "X-Sallyport-Deny"), "ip:metadata") << spelling;
    RawClient connect(h.port());
    connect.send("CONNECT " + spelling + ":" + tls_port + " HTTP/1.1\r\nHost: x\r\n\r\n");
    head = connect.read_head();
    EXPECT_EQ(status_code(head), 403) << spelling << "\n" << head;
    EXPECT_EQ(header_value(head, "X-Sallyport-Deny"), "ip:metadata") << spelling;
  }
  // curl's own URL parser may normalise the spelling first; the answer must not change.
  auto r = run_curl({"--noproxy", "", "-x", proxy_url(h), "http://2852039166:" + http_port + "/"});
  EXPECT_EQ(header_value(r.headers, "X-Sallyport-Deny"), "ip:metadata");
  EXPECT_EQ(h.histogram_count("sallyport_egress_upstream_connect_seconds"), 0u);  // no attempt
}

TEST_F(ForwardProxyTest, NamesResolvingToMetadataOrLoopbackAreDenied) {
  ProxyHarness h(options(), policy());
  auto traps = servers_->trap_accepts();
  struct Case { const char* host; const char* reason; };
  for (auto c : {Case{"imds.rebind.test", "ip:metadata"}, Case{"loop.rebind.test", "ip:loopback"},
                 Case{"mixed.rebind.test", "ip:loopback"}}) {
    auto r = run_curl({"--noproxy", "", "-x", proxy_url(h), http_url(c.host)});
    EXPECT_EQ(r.http_code, 403) << c.host;
    EXPECT_EQ(header_value(r.headers, "X-Sallyport-Deny"), c.reason) << c.host;
    auto t = run_curl({"--noproxy", "", "-x", proxy_url(h), "--cacert", ca_->ca_pem.string(),
                       "https://" + std::string(c.host) + ":" + std::to_string(servers_->tls_port()) + "/"});
    EXPECT_EQ(t.connect_code, 403) << c.host;
  }
  auto missing = run_curl({"--noproxy", "", "-x", proxy_url(h), http_url("nxdomain.test")});
  EXPECT_EQ(missing.http_code, 502);
  EXPECT_EQ(header_value(missing.headers, "X-Sallyport-Error"), "dns:failed");
  EXPECT_EQ(servers_->trap_accepts(), traps);
  EXPECT_EQ(h.histogram_count("sallyport_egress_upstream_connect_seconds"), 0u);
}

TEST_F(ForwardProxyTest, SniMismatchOrMissingIsDeniedBeforeConnecting) {
  ProxyHarness h(options(), policy());
  auto accepts = servers_->accepts();
  const std::string target = "www.allowed.test:" + std::to_string(servers_->tls_port());
  struct Case { std::optional<std::string> sni; const char* reason; };
  for (const auto& c : {Case{"evil.test", "sni:mismatch"}, Case{std::nullopt, "sni:missing"}}) {
    RawClient client(h.port());
    client.send("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n");
    EXPECT_EQ(status_code(client.read_head()), 200);
    client.send(client_hello(c.sni));
    auto alert = client.read_until_close();
    EXPECT_EQ(alert, std::string("\x15\x03\x03\x00\x02\x02\x31", 7));
  }
  RawClient plain(h.port());
  plain.send("CONNECT " + target + " HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(status_code(plain.read_head()), 200);
  EXPECT_FALSE(plain.read_until_close().starts_with("HTTP"));
  ASSERT_TRUE(h.wait_for_events(3));
  auto events = h.events();
  EXPECT_EQ(events[0].reason, "sni:mismatch");
  EXPECT_EQ(events[1].reason, "sni:missing");
  EXPECT_EQ(events[2].reason, "tls:not-tls");
  for (const auto& e : events) EXPECT_FALSE(e.allowed);
  EXPECT_EQ(servers_->accepts(), accepts);
  // Case and a trailing dot do not count as a mismatch.
  RawClient same(h.port());
  same.send("CONNECT WWW.allowed.test.:" + std::to_string(servers_->tls_port()) + " HTTP/1.1\r\n\r\n");
  EXPECT_EQ(status_code(same.read_head()), 200);
  same.send(client_hello("www.ALLOWED.test"));
  auto reply = same.read_exact(1);
  EXPECT_EQ(reply, "\x16");  // the server's handshake: the tunnel is open
}

TEST_F(ForwardProxyTest, SmugglingShapesAnswer400WithAReason) {
  ProxyHarness h(options(), policy());
  const std::string url = http_url("www.allowed.test");
  struct Case { std::string request; const char* reason; };
  const Case cases[] = {
      {"POST " + url + " HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", "request:te-and-cl"},
      {"POST " + url + " HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n", "request:duplicate-content-length"},
      {"POST " + url + " HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\n", "request:duplicate-content-length"},
      {"POST " + url + " HTTP/1.1\r\nContent-Length: 4x\r\n\r\n", "request:bad-content-length"},
      {"GET " + url + " HTTP/1.1\r\nX-A: 1\r\n  folded\r\n\r\n", "request:obs-fold"},
      {"GET " + url + " HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n", "request:header-too-large"},
      {"GET /index.html HTTP/1.1\r\nHost: www.allowed.test\r\n\r\n", "request:origin-form"},
      {"TRACE " + url + " HTTP/1.1\r\n\r\n", "request:bad-method"},
      {"G@T " + url + " HTTP/1.1\r\n\r\n", "request:bad-method"},
      {"POST " + url + " HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n", "request:bad-transfer-encoding"},
  };
  auto before = servers_->requests().size();
  for (const auto& c : cases) {
    RawClient client(h.port());
    client.send(c.request);
    auto head = client.read_head();
    EXPECT_EQ(status_code(head), 400) << c.reason << "\n" << head;
    EXPECT_EQ(header_value(head, "X-Sallyport-Error"), c.reason);
  }
  EXPECT_EQ(servers_->requests().size(), before);
}

TEST_F(ForwardProxyTest, PlainHttpRedirectsAreRelayedNotFollowed) {
  ProxyHarness h(options(), policy());
  auto before = servers_->requests().size();
  auto r = run_curl({"--noproxy", "", "-x", proxy_url(h), http_url("www.allowed.test", "/redirect")});
  EXPECT_EQ(r.http_code, 302);
  EXPECT_EQ(header_value(r.headers, "Location"), "http://169.254.169.254/latest/meta-data/");
  EXPECT_EQ(servers_->requests().size(), before + 1);
  EXPECT_EQ(h.histogram_count("sallyport_egress_upstream_connect_seconds"), 1u);
}

TEST_F(ForwardProxyTest, ProxyTokenIsRequiredWhenConfigured) {
  auto o = options();
  o.proxy_token = "pod-token-123";
  ProxyHarness h(o, policy());
  auto none = run_curl({"--noproxy", "", "-x", proxy_url(h), http_url("www.allowed.test")});
  EXPECT_EQ(none.http_code, 407);
  EXPECT_NE(header_value(none.headers, "Proxy-Authenticate").find("Basic"), std::string::npos);
  auto wrong = run_curl({"--noproxy", "", "-x", proxy_url(h), "--proxy-header",
                         "Proxy-Authorization: Bearer pod-token-124", http_url("www.allowed.test")});
  EXPECT_EQ(wrong.http_code, 407);
  EXPECT_EQ(header_value(wrong.headers, "X-Sallyport-Error"), "auth:invalid");
  auto bearer = run_curl({"--noproxy", "", "-x", proxy_url(h), "--proxy-header",
                          "Proxy-Authorization: Bearer pod-token-123", http_url("www.allowed.test")});
  EXPECT_EQ(bearer.http_code, 200);
  auto basic = run_curl({"--noproxy", "", "-x", proxy_url(h), "--proxy-user", "agent:pod-token-123",
                         "--cacert", ca_->ca_pem.string(),
                         "https://www.allowed.test:" + std::to_string(servers_->tls_port()) + "/"});
  EXPECT_EQ(basic.http_code, 200) << basic.stderr_text;
}

TEST_F(ForwardProxyTest, ReportModeAllowsButRecordsWouldDenyExceptMetadata) {
  auto o = options();
  o.report_only = true;
  ProxyHarness h(o, policy());
  auto r = run_curl({"--noproxy", "", "-x", proxy_url(h), http_url("blocked.test")});
  // blocked.test has no DNS record: the request gets as far as resolution.
  EXPECT_EQ(header_value(r.headers, "X-Sallyport-Error"), "dns:failed");
  auto imds = run_curl({"--noproxy", "", "-x", proxy_url(h), http_url("imds.rebind.test")});
  EXPECT_EQ(imds.http_code, 403);
  EXPECT_EQ(header_value(imds.headers, "X-Sallyport-Deny"), "ip:metadata");
  auto mixed = run_curl({"--noproxy", "", "-x", proxy_url(h), http_url("mixed.rebind.test")});
  EXPECT_EQ(mixed.http_code, 200);
  ASSERT_TRUE(h.wait_for_events(3));
  auto events = h.events();
  EXPECT_TRUE(events[2].allowed);
  EXPECT_TRUE(events[2].report_only_would_deny);
  EXPECT_EQ(events[2].reason, "ip:loopback");
  EXPECT_EQ(h.counter("sallyport_egress_decisions_total", {{"decision", "would_deny"}}), 1);
}

}  // namespace
}  // namespace sallyport::router::test

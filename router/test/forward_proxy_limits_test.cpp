// Forward proxy limits: slow clients, connection caps, and 1,000 concurrent tunnels.
#include "router/test/proxy_test_support.hpp"

#include <sys/resource.h>

#include <gtest/gtest.h>

namespace sallyport::router::test {
namespace {

class ForwardProxyLimitsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 16384);  // 1,000 tunnels need ~4,000 fds
    setrlimit(RLIMIT_NOFILE, &limit);
    ca_ = new TestCa(TestCa::create({"www.allowed.test"}));
    servers_ = new UpstreamServers("127.0.0.2", *ca_);
  }
  static void TearDownTestSuite() {
    delete servers_;
    std::filesystem::remove_all(ca_->dir);
    delete ca_;
  }
  static std::shared_ptr<FakeEgressPolicy> policy() {
    auto p = std::make_shared<FakeEgressPolicy>();
    p->allow_cidrs = {"127.0.0.2/32"};  // bare IPs inside allow_cidrs are allowed by the fake
    return p;
  }
  std::string echo_target() const { return "127.0.0.2:" + std::to_string(servers_->echo_port()); }

  static TestCa* ca_;
  static UpstreamServers* servers_;
};
TestCa* ForwardProxyLimitsTest::ca_ = nullptr;
UpstreamServers* ForwardProxyLimitsTest::servers_ = nullptr;

TEST_F(ForwardProxyLimitsTest, SlowlorisClientIsDroppedByTheHeaderTimeout) {
  auto o = test_options(*servers_);
  o.limits.header_timeout = std::chrono::milliseconds(400);
  ProxyHarness h(o, policy());
  RawClient client(h.port());
  const std::string request = "GET http://" + echo_target() + "/ HTTP/1.1\r\nHost: x\r\nX-Pad: " +
                              std::string(40, 'a') + "\r\n\r\n";
  bool dropped = false;
  for (char c : request) {  // one byte every 50 ms: the whole head would take > 4 s
    if (!client.send(std::string_view(&c, 1))) {
      dropped = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(dropped || client.closed_by_peer());
  EXPECT_TRUE(dropped) << "the proxy let a byte-by-byte head finish";
  EXPECT_GE(h.counter("sallyport_egress_errors_total", {{"kind", "header_timeout"}}), 1);
}

TEST_F(ForwardProxyLimitsTest, IdleClientThatSendsNothingIsDropped) {
  auto o = test_options(*servers_);
  o.limits.header_timeout = std::chrono::milliseconds(300);
  ProxyHarness h(o, policy());
  RawClient client(h.port());
  EXPECT_TRUE(client.closed_by_peer());  // SO_RCVTIMEO is 10 s; the proxy closes first
}

TEST_F(ForwardProxyLimitsTest, PerClientCapAnswers503) {
  auto o = test_options(*servers_);
  o.limits.max_connections_per_client = 2;
  ProxyHarness h(o, policy());
  RawClient a(h.port()), b(h.port());
  a.send("CONNECT " + echo_target() + " HTTP/1.1\r\n\r\n");
  b.send("CONNECT " + echo_target() + " HTTP/1.1\r\n\r\n");
  ASSERT_EQ(status_code(a.read_head()), 200);
  ASSERT_EQ(status_code(b.read_head()), 200);
  RawClient c(h.port());
  auto head = c.read_head();
  EXPECT_EQ(status_code(head), 503);
  EXPECT_EQ(header_value(head, "X-Sallyport-Error"), "limit:per-client");
}

// Opens `tunnels` CONNECT tunnels at once, echoes through each, then closes them all and
// checks that every one was released and recorded with its byte counts.
void hold_and_release_tunnels(ProxyOptions o, const std::shared_ptr<FakeEgressPolicy>& policy,
                              const std::string& echo_target, int tunnels) {
  o.limits.max_connections_per_client = 2000;
  ProxyHarness h(o, policy);
  std::vector<std::unique_ptr<RawClient>> clients;
  const std::string connect = "CONNECT " + echo_target + " HTTP/1.1\r\nHost: " + echo_target + "\r\n\r\n";
  for (int i = 0; i < tunnels; ++i) {
    clients.push_back(std::make_unique<RawClient>(h.port()));
    ASSERT_TRUE(clients.back()->send(connect));
  }
  int established = 0, echoed = 0;
  for (auto& client : clients) established += status_code(client->read_head()) == 200;
  for (int i = 0; i < tunnels; ++i) {
    auto message = "ping " + std::to_string(i);
    clients[i]->send(message);
    echoed += clients[i]->read_exact(message.size()) == message;
  }
  EXPECT_EQ(established, tunnels);
  EXPECT_EQ(echoed, tunnels);
  EXPECT_EQ(h.proxy().active_connections(), static_cast<std::size_t>(tunnels));
  EXPECT_EQ(h.gauge("sallyport_egress_connections_active"), tunnels);
  clients.clear();  // clients close: every tunnel must end and be released
  for (int i = 0; i < 1000 && h.proxy().active_connections() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(h.proxy().active_connections(), 0u);
  EXPECT_EQ(h.gauge("sallyport_egress_connections_active"), 0);
  ASSERT_TRUE(h.wait_for_events(static_cast<std::size_t>(tunnels)));
  auto events = h.events();
  std::size_t with_bytes = 0;
  for (const auto& e : events) with_bytes += e.allowed && e.bytes_up > 0 && e.bytes_up == e.bytes_down;
  EXPECT_EQ(with_bytes, static_cast<std::size_t>(tunnels));
}

TEST_F(ForwardProxyLimitsTest, ThousandConcurrentTunnelsAreHeldAndReleasedCleanly) {
  hold_and_release_tunnels(test_options(*servers_), policy(), echo_target(), 1000);
}

// The sallyport binary's mode: the proxy's own event loops, one SO_REUSEPORT acceptor each.
TEST_F(ForwardProxyLimitsTest, ThousandTunnelsOnThreeOwnEventLoops) {
  auto o = test_options(*servers_);
  o.event_loops = 3;
  hold_and_release_tunnels(o, policy(), echo_target(), 1000);
}

TEST_F(ForwardProxyLimitsTest, OwnEventLoopsShareOnePortAndShutDownWithOpenTunnels) {
  auto o = test_options(*servers_);
  o.event_loops = 2;
  auto h = std::make_unique<ProxyHarness>(o, policy());
  const auto port = h->port();
  ASSERT_NE(port, 0);
  // Many connections: with a SO_REUSEPORT group the kernel spreads them by 4-tuple hash, so
  // both loops get some; all of them must work whichever loop took them.
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 64; ++i) {
    clients.push_back(std::make_unique<RawClient>(port));
    clients.back()->send("CONNECT " + echo_target() + " HTTP/1.1\r\n\r\n");
  }
  for (auto& client : clients) ASSERT_EQ(status_code(client->read_head()), 200);
  EXPECT_EQ(h->proxy().active_connections(), 64u);
  h.reset();  // destroys the proxy and its loops while every tunnel is still open
  for (auto& client : clients) EXPECT_TRUE(client->closed_by_peer());
  EXPECT_THROW(RawClient{port}, std::runtime_error);  // every acceptor of the group is closed
}

TEST_F(ForwardProxyLimitsTest, CloseAllEndsOpenTunnels) {
  ProxyHarness h(test_options(*servers_), policy());
  RawClient client(h.port());
  client.send("CONNECT " + echo_target() + " HTTP/1.1\r\n\r\n");
  ASSERT_EQ(status_code(client.read_head()), 200);
  h.proxy().stop();
  h.proxy().close_all();
  EXPECT_TRUE(client.closed_by_peer());
  for (int i = 0; i < 500 && h.proxy().active_connections() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(h.proxy().active_connections(), 0u);
}

}  // namespace
}  // namespace sallyport::router::test

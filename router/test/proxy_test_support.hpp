#pragma once
// Test fixtures for the forward proxy: a fake EgressPolicy, loopback upstream servers that count
// accepts, a test CA (openssl CLI), the python3 test DNS server, a raw blocking client, curl,
// and a harness that runs ForwardProxy on port 0.
#include "blocklist/egress_policy.hpp"
#include "router/forward_proxy.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <prometheus/registry.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sallyport::router::test {

// Stand-in for the real blocklist until it lands: domains in `blocked` (suffix match) →
// "blocklist:test"; IP literals → "ip:metadata" / "ip:literal" (all inet_aton spellings, v6 and
// v4-mapped); resolved addresses: metadata, loopback, private, link-local denied unless inside
// `allow_cidrs` (metadata never).
class FakeEgressPolicy : public blocklist::EgressPolicy {
 public:
  std::vector<std::string> blocked;
  std::vector<std::string> allow_cidrs;  // "127.0.0.2/32"
  blocklist::HostCheck check_host(std::string_view host) const override;
  Decision check_address(const blocklist::IpAddress& address) const override;
};

std::filesystem::path make_temp_dir(const std::string& tag);

// A CA and one leaf certificate for `names` (subjectAltName), made with the openssl CLI.
struct TestCa {
  std::filesystem::path dir, ca_pem, leaf_pem, leaf_key;
  static TestCa create(const std::vector<std::string>& names);
};

// A child process whose first stdout line is read at start (e.g. a bound port). Killed on
// destruction.
class Subprocess {
 public:
  explicit Subprocess(const std::vector<std::string>& argv);
  ~Subprocess();
  const std::string& first_line() const { return first_line_; }

 private:
  int pid_ = -1;
  std::string first_line_;
};

// router/test/proxy_dns_server.py on 127.0.0.1:<port>, answering A records from `names`
// (name → list of IPv4 addresses); AAAA is empty, anything else NXDOMAIN.
class DnsTestServer {
 public:
  explicit DnsTestServer(const std::map<std::string, std::vector<std::string>>& names);
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  std::unique_ptr<Subprocess> process_;
  unsigned port_ = 0;
};

// Loopback servers on their own io_context thread; each counts accepted connections.
class UpstreamServers {
 public:
  UpstreamServers(const std::string& address, const TestCa& ca);
  ~UpstreamServers();
  std::uint16_t http_port() const { return http_port_; }
  std::uint16_t tls_port() const { return tls_port_; }
  std::uint16_t echo_port() const { return echo_port_; }
  std::size_t accepts() const { return accepts_.load(); }
  std::vector<std::string> requests() const;  // heads seen by the HTTP server, in order

  // Listens on `address`:`port` and only counts accepts (a trap that must stay at zero).
  std::uint16_t add_trap(const std::string& address, std::uint16_t port);
  std::size_t trap_accepts() const { return trap_accepts_.load(); }

 private:
  boost::asio::io_context ioc_;
  boost::asio::ssl::context tls_{boost::asio::ssl::context::tls_server};
  std::uint16_t http_port_ = 0, tls_port_ = 0, echo_port_ = 0;
  std::atomic<std::size_t> accepts_{0}, trap_accepts_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> requests_;
  std::vector<std::thread> threads_;
  friend struct UpstreamServersImpl;
};

// Runs a ForwardProxy on 127.0.0.1:0 on its own io_context (2 threads) and records events.
class ProxyHarness {
 public:
  ProxyHarness(ProxyOptions options, std::shared_ptr<const blocklist::EgressPolicy> policy);
  ~ProxyHarness();
  std::uint16_t port() const { return proxy_->local_endpoint().port(); }
  ForwardProxy& proxy() { return *proxy_; }
  std::vector<EgressEvent> events() const;
  // Waits (bounded) until `count` events have been recorded.
  bool wait_for_events(std::size_t count) const;
  double counter(const std::string& name, const std::map<std::string, std::string>& labels) const;
  double gauge(const std::string& name) const;
  std::uint64_t histogram_count(const std::string& name) const;

 private:
  // Declared so that the io_context (and any coroutine frame it still owns) dies before the
  // registry and the event list the proxy writes to.
  prometheus::Registry registry_;
  mutable std::mutex mutex_;
  std::vector<EgressEvent> events_;
  boost::asio::io_context ioc_;
  std::unique_ptr<ForwardProxy> proxy_;
  std::vector<std::thread> threads_;
};

// A blocking loopback TCP client with a receive timeout (never hangs a test).
class RawClient {
 public:
  explicit RawClient(std::uint16_t port, const char* address = "127.0.0.1");
  ~RawClient();
  bool send(std::string_view data);
  std::string read_head();             // up to and including CRLFCRLF ("" on close)
  std::string read_exact(std::size_t count);
  std::string read_until_close();
  bool closed_by_peer();               // true when the next read sees EOF or reset
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::string pending_;
};

std::string header_value(const std::string& head, const std::string& name);
int status_code(const std::string& head);

struct CurlResult {
  int http_code = 0;     // %{http_code}
  int connect_code = 0;  // %{http_connect}: the proxy's answer to CONNECT
  std::string headers, body, stderr_text;
};
CurlResult run_curl(const std::vector<std::string>& args);

// A real ClientHello (OpenSSL client, memory BIOs) with the given SNI (none when nullopt).
std::string client_hello(const std::optional<std::string>& sni);

// ProxyOptions for tests: short timeouts, loopback ports of `servers`.
ProxyOptions test_options(const UpstreamServers& servers);

}  // namespace sallyport::router::test

#pragma once
// The egress forward proxy on 127.0.0.1:3128: `CONNECT host:port` tunnels and absolute-form
// plain-HTTP requests (`GET http://host/path`), each destination decided by the egress policy
// before any upstream byte is sent.
//
// Order per request (shared/DESIGN.md "Egress rules"; written down once, here):
//   1. parse the request head (bounded bytes and time; smuggling shapes → 400)
//   2. Proxy-Authorization when a token is configured (→ 407)
//   3. target form and port (origin-form → 400, port outside connect_ports/http_ports → 403)
//   4. policy->check_host()                          (deny → 403 with its reason)
//   5. IP literal → that address; else one async DNS resolution with dns_timeout (→ 504/502)
//   6. policy->check_address() on EVERY answer; one denied answer denies the request
//   7. CONNECT to a tls_ports port with require_sni: answer 200, peek the ClientHello (bounded),
//      deny (TLS alert + close) when SNI is missing or differs from the CONNECT host
//   8. connect only to the checked addresses (no second lookup) with connect_timeout (→ 504/502)
//   9. splice (CONNECT) or relay one request/response streaming (absolute-form); the next
//      keep-alive request starts again at 1.
// Report mode ("egress.mode": "report") allows what 4/6/7 would deny and records it, except
// ip:metadata, which is denied in every mode.
#include "blocklist/egress_policy.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace prometheus {
class Registry;
}

namespace sallyport::router {

struct ProxyOptions {  // mapped from config "egress" + "listeners.proxy"
  std::string listen = "127.0.0.1:3128";             // "ip:port" or "[v6]:port"; port 0 allowed
  std::vector<std::uint16_t> connect_ports{443};     // CONNECT allowed ports
  std::vector<std::uint16_t> http_ports{80};         // absolute-form allowed ports
  std::vector<std::uint16_t> tls_ports{443};         // CONNECT ports whose ClientHello is peeked
  bool require_sni = true;                           // CONNECT to TLS ports: SNI must match
  bool report_only = false;  // egress.mode "report": allow, but record what enforce would deny
  std::optional<std::string> proxy_token;  // Proxy-Authorization required when set
  struct Limits {
    std::size_t max_header_bytes = 16384;
    std::chrono::milliseconds connect_timeout{5000}, dns_timeout{3000}, idle_timeout{60000},
        tunnel_lifetime{3600000}, header_timeout{10000};
    std::size_t max_connections = 4096, max_connections_per_client = 256;
  } limits;
  std::vector<std::string> resolvers;  // optional "ip[:port]" DNS servers; empty = system resolver
  std::string via_name = "sallyport";  // pseudonym in the Via header we add ("1.1 sallyport")
  // 0: connections run on the io_context given to ForwardProxy, each on its own strand.
  // N > 0: the proxy runs N event loops of its own, one thread each, every loop with its own
  // SO_REUSEPORT acceptor on the same address: the kernel spreads connections over the loops,
  // a connection never leaves its loop, so no strand and no cross-thread hand-off is needed
  // (bench/proxy_bench.sh: the hand-offs of a shared multi-threaded io_context were the cost).
  unsigned event_loops = 0;
};

// One per decision (allowed requests: when they end, with bytes and duration; refusals: at once).
// The lead forwards it to the audit log. Never carries credentials.
struct EgressEvent {
  std::string client;  // "127.0.0.1:50123"
  std::string method;  // "CONNECT", "GET", …
  std::string host;    // normalised when the policy normalised it, else as requested
  std::string port;
  std::string reason;  // closed set: policy reasons (blocklist/egress_policy.hpp) plus the
                       // proxy's own: "request:<kind>", "auth:required", "auth:invalid",
                       // "port:not-allowed", "sni:missing", "sni:mismatch", "tls:not-tls",
                       // "dns:timeout", "dns:failed", "upstream:timeout", "upstream:refused",
                       // "limit:connections", "limit:per-client"
  std::string rule, detail;
  bool allowed = false;
  bool report_only_would_deny = false;  // allowed only because of report mode
  int status = 0;                       // HTTP status answered (200 for an established tunnel)
  std::uint64_t bytes_up = 0, bytes_down = 0;
  std::chrono::microseconds duration{};
};

using blocklist::PolicySource;

struct ProxyContext;  // shared with the per-connection coroutines (router/proxy_context.hpp)
class ProxyListener;  // the acceptor and its loop (router/forward_proxy.cpp)
struct ProxyEventLoops;  // the proxy's own io_contexts and threads when event_loops > 0

class ForwardProxy {
 public:
  // Metrics are registered on `metrics` at construction (which must outlive the proxy and its
  // connections). `on_event` may be called from any io_context thread, concurrently.
  ForwardProxy(boost::asio::io_context& ioc, ProxyOptions options, PolicySource policy,
               prometheus::Registry& metrics, std::function<void(const EgressEvent&)> on_event);
  ~ForwardProxy();  // stop() + close_all(); then stops and joins the proxy's own event loops
  ForwardProxy(const ForwardProxy&) = delete;
  ForwardProxy& operator=(const ForwardProxy&) = delete;

  // bind + listen + spawn the accept loop(s); port 0 allowed (every loop shares the port
  // the first one was given). With event_loops > 0 the loop threads start here.
  boost::system::error_code start();
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  void stop();       // stop accepting; existing tunnels finish (the app drains with a deadline)
  void close_all();  // cancel every active connection (end of drain)
  std::size_t active_connections() const;

 private:
  boost::asio::io_context& ioc_;
  std::shared_ptr<ProxyContext> context_;
  std::vector<std::shared_ptr<ProxyListener>> listeners_;
  std::unique_ptr<ProxyEventLoops> loops_;
};

}  // namespace sallyport::router

// Runs the sallyport ForwardProxy alone for bench/proxy_bench.sh (until the `sallyport` binary
// can be configured for it): proxy_bench_driver <listen ip:port> <connect port> [threads]
// The policy here allows loopback destinations only, so the bench can never reach further.
#include "common/log.hpp"
#include "router/forward_proxy.hpp"

#include <arpa/inet.h>

#include <boost/asio/signal_set.hpp>
#include <prometheus/registry.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>

namespace {

using sallyport::Decision;
namespace blocklist = sallyport::blocklist;

class LoopbackOnlyPolicy : public blocklist::EgressPolicy {
 public:
  blocklist::HostCheck check_host(std::string_view host) const override {
    in_addr v4{};
    if (inet_pton(AF_INET, std::string(host).c_str(), &v4) != 1)
      return {Decision::deny("host:invalid", {}, "bench accepts IPv4 literals only"), std::string(host), std::nullopt};
    blocklist::IpAddress address;
    address.is_v4 = true;
    address.bytes[10] = address.bytes[11] = 0xff;
    std::memcpy(address.bytes.data() + 12, &v4, 4);
    return {check_address(address), std::string(host), address};
  }
  Decision check_address(const blocklist::IpAddress& address) const override {
    if (address.is_v4 && address.bytes[12] == 127) return Decision::allow("allowlist", "127.0.0.0/8");
    return Decision::deny("ip:denied-cidr", {}, "bench: loopback only");
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: proxy_bench_driver <listen ip:port> <connect port> [threads]\n");
    return 2;
  }
  int threads = argc > 3 ? std::max(1, std::atoi(argv[3])) : 1;
  sallyport::log::configure(sallyport::log::Format::json, sallyport::log::Level::info);
  // As in the sallyport binary: the proxy runs `threads` event loops of its own
  // (ProxyOptions::event_loops); this io_context only waits for the stop signal.
  boost::asio::io_context ioc(1);
  prometheus::Registry registry;
  sallyport::router::ProxyOptions options;
  options.listen = argv[1];
  options.connect_ports = {static_cast<std::uint16_t>(std::atoi(argv[2]))};
  options.tls_ports = {};
  options.limits.max_connections = 100000;
  options.limits.max_connections_per_client = 100000;
  options.event_loops = static_cast<unsigned>(threads);
  auto policy = std::make_shared<const LoopbackOnlyPolicy>();
  sallyport::router::ForwardProxy proxy(ioc, options, [policy] { return policy; }, registry,
                                        [](const sallyport::router::EgressEvent&) {});
  if (auto ec = proxy.start()) {
    std::fprintf(stderr, "proxy_bench_driver: %s\n", ec.message().c_str());
    return 1;
  }
  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    proxy.stop();
    proxy.close_all();
    ioc.stop();
  });
  ioc.run();
  return 0;
}

#pragma once
// Shared state of the inference gateway (router/gateway*.cpp only; not a public header).
#include "router/gateway.hpp"
#include "router/gateway_routes.hpp"
#include "router/mcp_gateway.hpp"
#include "router/upstream_client.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace sallyport::router {

// Every gateway metric, declared together (promtool-clean names).
struct GatewayMetrics {
  explicit GatewayMetrics(prometheus::Registry& registry);

  prometheus::Family<prometheus::Counter>& requests;         // {route,provider,status}
  prometheus::Family<prometheus::Counter>& tokens;           // {model,direction}
  prometheus::Family<prometheus::Gauge>& budget_remaining;   // {window}
  prometheus::Family<prometheus::Gauge>& budget_limit;       // {window}: the cap, for "% used" alerts
  prometheus::Counter& uncharged;
  prometheus::Histogram& upstream_seconds;                   // request sent → response header
  prometheus::Family<prometheus::Counter>& upstream_errors;  // {provider,kind}
  prometheus::Gauge& in_flight;

  // Model names come from the agent: bounded to 100 distinct, safe label values ("other" after).
  std::string model_label(std::string_view model);

 private:
  std::mutex mutex_;
  std::set<std::string, std::less<>> models_;
};

// Provider keys resolved from env/file, cached for a minute (file-mounted secrets rotate).
class ProviderKeys {
 public:
  struct Key {
    std::optional<std::string> value;  // "" when the provider has no api_key configured
    std::string error;                 // names the reference ("env:NAME"), never a value
  };
  Key get(const config::Provider& provider);

 private:
  std::mutex mutex_;
  std::map<std::string, std::pair<std::string, std::chrono::steady_clock::time_point>> cache_;
};

struct InferenceGateway::Impl : std::enable_shared_from_this<InferenceGateway::Impl> {
  Impl(boost::asio::io_context& ioc, const config::Config& cfg, PolicySource egress_policy,
       GatewayDeps deps, prometheus::Registry& registry,
       std::function<void(const GatewayEvent&)> on_event);

  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> run_session(std::shared_ptr<boost::beast::tcp_stream> client);
  void emit(const GatewayEvent& event) const;
  std::string budget_remaining_header();

  boost::asio::io_context& ioc;
  const config::Config cfg;
  GatewayDeps deps;
  GatewayMetrics metrics;
  std::function<void(const GatewayEvent&)> on_event;
  UpstreamPool pool;
  ProviderKeys keys;
  std::map<std::string, BaseUrlResult> base_urls;  // provider name → parsed base_url
  std::unique_ptr<McpGateway> mcp;                 // /mcp/<name> (router/mcp_gateway.hpp)
  boost::asio::ip::tcp::acceptor acceptor;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> active{0};

  std::mutex sessions_mutex;
  std::uint64_t next_session = 0;
  std::map<std::uint64_t, std::weak_ptr<boost::beast::tcp_stream>> sessions;
};

// Handles one parsed request on `client` and writes the answer; returns whether the connection
// may carry another request (gateway_exchange.cpp).
boost::asio::awaitable<bool> handle_gateway_request(InferenceGateway::Impl& gw,
                                                    boost::beast::tcp_stream& client,
                                                    HttpRequest& request);

}  // namespace sallyport::router

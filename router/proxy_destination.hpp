#pragma once
// Destination decision and upstream connect for one request: check_host → (IP literal or one
// async DNS lookup with a timeout) → check_address on every answer → connect only to the checked
// addresses. There is no second lookup anywhere, so DNS rebinding cannot swap the address.
#include "blocklist/egress_policy.hpp"
#include "router/proxy_refusal.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace sallyport::router {

struct ProxyContext;

struct CheckedDestination {
  std::string host;  // normalised by the policy
  std::uint16_t port = 0;
  std::vector<boost::asio::ip::tcp::endpoint> endpoints;  // every one passed check_address
  Decision decision;                                       // allow decision (or report-mode deny)
  bool report_only_would_deny = false;
  bool literal = false;  // the host was an IP literal (no SNI can be expected)
};

boost::asio::ip::address to_asio(const blocklist::IpAddress& address);
blocklist::IpAddress to_policy(const boost::asio::ip::address& address);

// Applies the policy and resolves. A refusal is returned for denials (403), DNS timeouts (504)
// and DNS failures (502). `host` is as the client wrote it (brackets removed).
boost::asio::awaitable<std::variant<CheckedDestination, Refusal>> check_destination(
    const ProxyContext& context, const blocklist::EgressPolicy& policy, const std::string& host,
    std::uint16_t port);

// Connects `upstream` to one of the checked endpoints (in order) within connect_timeout and
// records sallyport_egress_upstream_connect_seconds. nullopt on success.
boost::asio::awaitable<std::optional<Refusal>> connect_checked(const ProxyContext& context,
                                                               const CheckedDestination& destination,
                                                               boost::beast::tcp_stream& upstream);

}  // namespace sallyport::router

// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (the awaitable
// promise has its own operator new/delete pair); the allocation and deallocation do match.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include "router/proxy_destination.hpp"

#include "router/dns_client.hpp"
#include "router/proxy_context.hpp"
#include "router/proxy_deadline.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace sallyport::router {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

Refusal deny(const Decision& decision) {
  return Refusal{RefusalKind::denied, decision.reason, decision.rule, decision.detail};
}

// Metadata is the one deny that report mode never turns into an allow.
bool always_enforced(const Decision& decision) { return decision.reason == "ip:metadata"; }

struct Lookup {
  std::vector<asio::ip::address> addresses;
  std::optional<Refusal> refusal;
};

asio::awaitable<Lookup> system_lookup(const ProxyContext& context, const std::string& host) {
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  Deadline deadline(executor, std::chrono::steady_clock::now() + context.options.limits.dns_timeout,
                    [&resolver] { resolver.cancel(); });
  auto [ec, results] = co_await resolver.async_resolve(host, "0", tcp::resolver::numeric_service,
                                                       use_tuple);
  Lookup lookup;
  if (deadline.fired()) {
    lookup.refusal = Refusal{RefusalKind::upstream_timeout, "dns:timeout", {}, "no answer for " + host};
  } else if (ec) {
    lookup.refusal = Refusal{RefusalKind::upstream_failed, "dns:failed", {}, host + ": " + ec.message()};
  } else {
    for (const auto& entry : results) lookup.addresses.push_back(entry.endpoint().address());
  }
  co_return lookup;
}

asio::awaitable<Lookup> stub_lookup(const ProxyContext& context, const std::string& host) {
  auto result = co_await dns::lookup(context.resolvers, host, context.options.limits.dns_timeout);
  Lookup lookup;
  switch (result.status) {
    case dns::LookupStatus::ok: lookup.addresses = std::move(result.addresses); break;
    case dns::LookupStatus::timeout:
      lookup.refusal = Refusal{RefusalKind::upstream_timeout, "dns:timeout", {}, "no answer for " + host};
      break;
    case dns::LookupStatus::nxdomain:
      lookup.refusal = Refusal{RefusalKind::upstream_failed, "dns:failed", {}, host + ": NXDOMAIN"};
      break;
    case dns::LookupStatus::failed:
      lookup.refusal = Refusal{RefusalKind::upstream_failed, "dns:failed", {}, host + ": " + result.detail};
      break;
  }
  co_return lookup;
}

}  // namespace

asio::ip::address to_asio(const blocklist::IpAddress& address) {
  if (address.is_v4) {
    asio::ip::address_v4::bytes_type v4;
    std::copy(address.bytes.begin() + 12, address.bytes.end(), v4.begin());
    return asio::ip::address_v4(v4);
  }
  asio::ip::address_v6::bytes_type v6;
  std::copy(address.bytes.begin(), address.bytes.end(), v6.begin());
  return asio::ip::address_v6(v6);
}

blocklist::IpAddress to_policy(const asio::ip::address& address) {
  blocklist::IpAddress out;
  if (address.is_v4()) {
    out.is_v4 = true;
    out.bytes[10] = out.bytes[11] = 0xff;
    auto v4 = address.to_v4().to_bytes();
    std::copy(v4.begin(), v4.end(), out.bytes.begin() + 12);
  } else {
    auto v6 = address.to_v6().to_bytes();
    std::copy(v6.begin(), v6.end(), out.bytes.begin());
  }
  return out;
}

asio::awaitable<std::variant<CheckedDestination, Refusal>> check_destination(
    const ProxyContext& context, const blocklist::EgressPolicy& policy, const std::string& host,
    std::uint16_t port) {
  const bool report_only = context.options.report_only;
  CheckedDestination destination;
  destination.port = port;
  auto host_check = policy.check_host(host);
  destination.host = host_check.normalized_host.empty() ? host : host_check.normalized_host;
  destination.decision = host_check.decision;
  if (!host_check.decision.allowed()) {
    if (!report_only || always_enforced(host_check.decision) || host_check.decision.reason == "host:invalid")
      co_return deny(host_check.decision);
    destination.report_only_would_deny = true;
  }

  std::vector<asio::ip::address> addresses;
  if (host_check.literal) {
    addresses.push_back(to_asio(*host_check.literal));
    destination.literal = true;
  } else {
    Lookup lookup;
    if (context.resolvers.empty())
      lookup = co_await system_lookup(context, destination.host);
    else
      lookup = co_await stub_lookup(context, destination.host);
    if (lookup.refusal) co_return *lookup.refusal;
    addresses = std::move(lookup.addresses);
  }
  // Every answer is checked; one denied answer denies the request (an attacker controlling the
  // zone must not get a chance to be picked).
  for (const auto& address : addresses) {
    auto decision = policy.check_address(to_policy(address));
    if (decision.allowed()) continue;
    if (!report_only || always_enforced(decision)) co_return deny(decision);
    if (!destination.report_only_would_deny) destination.decision = decision;
    destination.report_only_would_deny = true;
  }
  for (const auto& address : addresses) destination.endpoints.emplace_back(address, port);
  if (destination.endpoints.empty())
    co_return Refusal{RefusalKind::upstream_failed, "dns:failed", {}, destination.host + ": no addresses"};
  co_return destination;
}

asio::awaitable<std::optional<Refusal>> connect_checked(const ProxyContext& context,
                                                        const CheckedDestination& destination,
                                                        boost::beast::tcp_stream& upstream) {
  const auto started = std::chrono::steady_clock::now();
  upstream.expires_after(context.options.limits.connect_timeout);
  auto [ec, endpoint] = co_await upstream.async_connect(destination.endpoints, use_tuple);
  upstream.expires_never();
  context.metrics.connect_seconds.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (!ec) {
    boost::system::error_code ignored;
    upstream.socket().set_option(tcp::no_delay(true), ignored);
    co_return std::nullopt;
  }
  if (ec == boost::beast::error::timeout)
    co_return Refusal{RefusalKind::upstream_timeout, "upstream:timeout", {},
                      "connect to " + destination.host + " timed out"};
  co_return Refusal{RefusalKind::upstream_failed, "upstream:refused", {},
                    "connect to " + destination.host + ": " + ec.message()};
}

}  // namespace sallyport::router

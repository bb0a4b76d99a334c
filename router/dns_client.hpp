#pragma once
// A small async DNS stub client over UDP for the forward proxy when `resolvers` is configured:
// A and AAAA queries sent together, a random query id per query (OpenSSL RAND_bytes) and a fresh
// socket per lookup (kernel-randomised source port), answers accepted only from the queried
// server with a matching id and question, bounded retries across the configured servers, one
// overall deadline. Truncated (TC) answers are not retried over TCP: they count as failures.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/udp.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sallyport::router::dns {

inline constexpr std::uint16_t type_a = 1, type_aaaa = 28, type_cname = 5;

// "ip", "ip:port", "[v6]", "[v6]:port" (port defaults to 53). nullopt when unparsable.
std::optional<boost::asio::ip::udp::endpoint> parse_resolver(std::string_view text);

// A standard recursive query for one name and type. Empty when `name` is not a valid DNS name.
std::vector<std::uint8_t> build_query(std::uint16_t id, std::string_view name, std::uint16_t qtype);

struct ParsedAnswer {
  std::uint8_t rcode = 0;  // 0 NOERROR, 3 NXDOMAIN, …
  bool truncated = false;
  std::vector<boost::asio::ip::address> addresses;  // A/AAAA along the CNAME chain from `name`
};
// nullopt when the datagram is not the answer to (id, name, qtype): callers keep waiting.
std::optional<ParsedAnswer> parse_answer(std::span<const std::uint8_t> datagram, std::uint16_t id,
                                         std::string_view name, std::uint16_t qtype);

enum class LookupStatus : std::uint8_t { ok, nxdomain, timeout, failed };
struct LookupResult {
  LookupStatus status = LookupStatus::failed;
  std::vector<boost::asio::ip::address> addresses;  // A answers first, then AAAA
  std::string detail;
};

// Resolves `name` (A + AAAA) against `servers` within `timeout`. Never throws for network
// errors; the returned status says what happened. `servers` and `name` must outlive the
// lookup (co_await it directly).
boost::asio::awaitable<LookupResult> lookup(const std::vector<boost::asio::ip::udp::endpoint>& servers,
                                            const std::string& name,
                                            std::chrono::milliseconds timeout);

}  // namespace sallyport::router::dns

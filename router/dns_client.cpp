// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (the awaitable
// promise has its own operator new/delete pair); the allocation and deallocation do match.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include "router/dns_client.hpp"

#include "router/proxy_deadline.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <stdexcept>

namespace sallyport::router::dns {
namespace asio = boost::asio;
using asio::ip::udp;

namespace {

char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string canonical_name(std::string_view name) {
  std::string out(name);
  std::transform(out.begin(), out.end(), out.begin(), lower_ascii);
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

std::uint16_t random_id() {
  std::uint16_t id = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&id), sizeof id) != 1) {
    // RAND_bytes only fails when the CSPRNG cannot be seeded; a fixed id would be guessable.
    throw std::runtime_error("dns: RAND_bytes failed");
  }
  return id;
}

struct Cursor {
  std::span<const std::uint8_t> data;
  std::size_t pos = 0;
  bool failed = false;

  std::uint32_t number(std::size_t width) {
    if (failed || data.size() - pos < width) { failed = true; return 0; }
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < width; ++i) value = (value << 8) | data[pos++];
    return value;
  }
  void skip(std::size_t count) {
    if (failed || data.size() - pos < count) { failed = true; return; }
    pos += count;
  }
  // A (possibly compressed) name, lower-cased, without the trailing dot.
  std::string name() {
    std::string out;
    std::size_t at = pos;
    bool jumped = false;
    for (int hops = 0; hops < 64 && !failed; ++hops) {
      if (at >= data.size()) break;
      std::uint8_t length = data[at];
      if ((length & 0xC0) == 0xC0) {
        if (at + 1 >= data.size()) break;
        if (!jumped) pos = at + 2;
        jumped = true;
        at = (std::size_t{length & 0x3Fu} << 8) | data[at + 1];
        continue;
      }
      if (length == 0) {
        if (!jumped) pos = at + 1;
        return out;
      }
      if (length > 63 || at + 1 + length > data.size() || out.size() + length > 254) break;
      if (!out.empty()) out += '.';
      for (std::size_t i = 0; i < length; ++i) out += lower_ascii(static_cast<char>(data[at + 1 + i]));
      at += 1 + length;
    }
    failed = true;
    return {};
  }
};

}  // namespace

std::optional<udp::endpoint> parse_resolver(std::string_view text) {
  std::string_view host = text;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port_text = rest.substr(1);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    auto colon = text.find(':');
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  boost::system::error_code ec;
  auto address = asio::ip::make_address(std::string(host), ec);
  if (ec) return std::nullopt;
  unsigned port = 53;
  if (!port_text.empty()) {
    auto [end, err] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (err != std::errc{} || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535)
      return std::nullopt;
  }
  return udp::endpoint(address, static_cast<unsigned short>(port));
}

std::vector<std::uint8_t> build_query(std::uint16_t id, std::string_view name,
                                      std::uint16_t qtype) {
  auto canonical = canonical_name(name);
  if (canonical.empty() || canonical.size() > 253) return {};
  std::vector<std::uint8_t> out{static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id),
                                0x01, 0x00,  // RD
                                0, 1, 0, 0, 0, 0, 0, 0};
  std::size_t start = 0;
  while (start <= canonical.size()) {
    auto dot = canonical.find('.', start);
    auto label = std::string_view(canonical).substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty() || label.size() > 63) return {};
    out.push_back(static_cast<std::uint8_t>(label.size()));
    out.insert(out.end(), label.begin(), label.end());
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  out.insert(out.end(), {0, static_cast<std::uint8_t>(qtype >> 8),
                         static_cast<std::uint8_t>(qtype), 0, 1});
  return out;
}

std::optional<ParsedAnswer> parse_answer(std::span<const std::uint8_t> datagram, std::uint16_t id,
                                         std::string_view name, std::uint16_t qtype) {
  Cursor in{datagram};
  auto got_id = in.number(2);
  auto flags = in.number(2);
  auto questions = in.number(2);
  auto answers = in.number(2);
  in.number(4);  // authority + additional counts: not needed
  if (in.failed || got_id != id || !(flags & 0x8000) || ((flags >> 11) & 0xF) != 0 ||
      questions != 1)
    return std::nullopt;
  auto wanted = canonical_name(name);
  if (in.name() != wanted || in.number(2) != qtype || in.number(2) != 1 || in.failed)
    return std::nullopt;

  ParsedAnswer parsed;
  parsed.rcode = static_cast<std::uint8_t>(flags & 0xF);
  parsed.truncated = (flags & 0x0200) != 0;
  std::string chain = wanted;  // owner name we accept next (follows CNAMEs in order)
  for (std::uint32_t i = 0; i < answers && !in.failed; ++i) {
    auto owner = in.name();
    auto type = in.number(2);
    in.number(2);  // class
    in.number(4);  // ttl
    auto length = in.number(2);
    if (in.failed || datagram.size() - in.pos < length) return std::nullopt;
    std::size_t rdata = in.pos;
    if (owner == chain && type == type_cname) {
      Cursor target{datagram, rdata};
      chain = target.name();
      if (target.failed) return std::nullopt;
    } else if (owner == chain && type == type_a && type == qtype && length == 4) {
      asio::ip::address_v4::bytes_type bytes;
      std::copy_n(datagram.begin() + static_cast<std::ptrdiff_t>(rdata), 4, bytes.begin());
      parsed.addresses.emplace_back(asio::ip::address_v4(bytes));
    } else if (owner == chain && type == type_aaaa && type == qtype && length == 16) {
      asio::ip::address_v6::bytes_type bytes;
      std::copy_n(datagram.begin() + static_cast<std::ptrdiff_t>(rdata), 16, bytes.begin());
      parsed.addresses.emplace_back(asio::ip::address_v6(bytes));
    }
    in.skip(length);
  }
  if (in.failed) return std::nullopt;
  return parsed;
}

namespace {

struct PendingQuery {
  std::uint16_t qtype = 0;
  std::uint16_t id = 0;
  std::vector<std::uint8_t> packet;
  std::optional<ParsedAnswer> answer;
};

// One attempt against one server: fresh socket (new source port), fresh ids, answers until the
// attempt deadline. Returns false when the socket could not even be used.
asio::awaitable<void> attempt(udp::endpoint server, std::string_view name,
                              std::array<PendingQuery, 2>& queries,
                              std::chrono::steady_clock::time_point deadline) {
  auto executor = co_await asio::this_coro::executor;
  udp::socket socket(executor);
  boost::system::error_code ec;
  socket.open(server.protocol(), ec);
  if (ec) co_return;
  Deadline guard(executor, deadline, [&socket] {
    boost::system::error_code ignored;
    socket.cancel(ignored);
  });
  for (auto& query : queries) {
    if (query.answer) continue;
    query.id = random_id();
    query.packet = build_query(query.id, name, query.qtype);
    auto [send_ec, sent] = co_await socket.async_send_to(asio::buffer(query.packet), server,
                                                         asio::as_tuple(asio::use_awaitable));
    if (send_ec) co_return;
  }
  std::array<std::uint8_t, 1500> datagram{};
  while (!std::all_of(queries.begin(), queries.end(), [](auto& q) { return q.answer.has_value(); })) {
    udp::endpoint sender;
    auto [recv_ec, size] = co_await socket.async_receive_from(
        asio::buffer(datagram), sender, asio::as_tuple(asio::use_awaitable));
    if (recv_ec == asio::error::operation_aborted || guard.fired()) co_return;
    if (recv_ec) continue;  // e.g. ICMP port unreachable surfaced as connection_refused
    if (sender != server) continue;
    for (auto& query : queries) {
      if (query.answer) continue;
      auto parsed = parse_answer(std::span(datagram.data(), size), query.id, name, query.qtype);
      if (parsed) query.answer = std::move(parsed);
    }
  }
}

}  // namespace

asio::awaitable<LookupResult> lookup(const std::vector<udp::endpoint>& servers, const std::string& name,
                                     std::chrono::milliseconds timeout) {
  if (servers.empty() || build_query(0, name, type_a).empty())
    co_return LookupResult{LookupStatus::failed, {}, "invalid name or no resolver"};
  std::array<PendingQuery, 2> queries{};
  queries[0].qtype = type_a;
  queries[1].qtype = type_aaaa;
  const std::size_t attempts = std::max<std::size_t>(3, servers.size());
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < attempts; ++i) {
    auto deadline = start + timeout * static_cast<int>(i + 1) / static_cast<int>(attempts);
    co_await attempt(servers[i % servers.size()], name, queries, deadline);
    bool done = std::all_of(queries.begin(), queries.end(), [](auto& q) { return q.answer.has_value(); });
    if (done) break;
  }
  LookupResult result;
  bool any_answer = false, nxdomain = false;
  for (auto& query : queries) {
    if (!query.answer) continue;
    any_answer = true;
    if (query.answer->truncated) result.detail = "truncated answer (TC) ignored";
    else if (query.answer->rcode == 3) nxdomain = true;
    else if (query.answer->rcode == 0)
      result.addresses.insert(result.addresses.end(), query.answer->addresses.begin(),
                              query.answer->addresses.end());
    else result.detail = "rcode " + std::to_string(query.answer->rcode);
  }
  if (!result.addresses.empty()) result.status = LookupStatus::ok;
  else if (nxdomain) result.status = LookupStatus::nxdomain;
  else if (!any_answer) result.status = LookupStatus::timeout;
  else result.status = LookupStatus::failed;
  if (result.status == LookupStatus::failed && result.detail.empty()) result.detail = "no A/AAAA answer";
  co_return result;
}

}  // namespace sallyport::router::dns

#pragma once
// Copies bytes both ways between two connected sockets until both directions end, counting
// bytes per direction. A half-close (EOF) is passed on as shutdown(send); an error in either
// direction closes both. A watchdog closes both sockets when no byte moved for `idle_timeout`
// (activity in either direction counts) or when `lifetime` has passed since the splice began.
#include "router/proxy_metrics.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace sallyport::router {

struct SpliceTotals {
  std::uint64_t up = 0;    // client → upstream
  std::uint64_t down = 0;  // upstream → client
  bool timed_out = false;  // ended by the idle or lifetime watchdog
};

// Sends as much of `data` as `socket` takes right now, without blocking and without a trip
// through the scheduler (MSG_DONTWAIT; the socket's mode is not changed). Returns the bytes sent;
// `ec` is set only for real errors (a full send buffer is not one: the caller then finishes the
// rest with async_write). Small relayed messages almost always go out whole here.
std::size_t send_now(boost::asio::ip::tcp::socket& socket, boost::asio::const_buffer data,
                     boost::system::error_code& ec);

boost::asio::awaitable<SpliceTotals> splice(boost::asio::ip::tcp::socket& client,
                                            boost::asio::ip::tcp::socket& upstream,
                                            std::chrono::milliseconds idle_timeout,
                                            std::chrono::milliseconds lifetime,
                                            ProxyMetrics& metrics);

}  // namespace sallyport::router

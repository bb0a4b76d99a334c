// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (the awaitable
// promise has its own operator new/delete pair); the allocation and deallocation do match.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include "router/proxy_splice.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <memory>

namespace sallyport::router {
namespace asio = boost::asio;
using asio::ip::tcp;
using clock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Shared between the two pumps and the watchdog; all on the connection's strand.
struct SpliceState {
  tcp::socket* client;
  tcp::socket* upstream;
  clock::time_point last_activity = clock::now();
  clock::time_point end_of_life;
  std::chrono::milliseconds idle_timeout;
  bool finished = false;
  bool timed_out = false;

  void close_both() {
    boost::system::error_code ignored;
    client->cancel(ignored);
    upstream->cancel(ignored);
    client->shutdown(tcp::socket::shutdown_both, ignored);
    upstream->shutdown(tcp::socket::shutdown_both, ignored);
  }
};

void arm_watchdog(const std::shared_ptr<SpliceState>& state,
                  const std::shared_ptr<asio::steady_timer>& timer) {
  timer->expires_at(std::min(state->last_activity + state->idle_timeout, state->end_of_life));
  timer->async_wait([state, timer](const boost::system::error_code& ec) {
    if (ec || state->finished) return;
    auto now = clock::now();
    if (now >= state->end_of_life || now >= state->last_activity + state->idle_timeout) {
      state->timed_out = true;
      state->close_both();
      return;
    }
    arm_watchdog(state, timer);
  });
}

asio::awaitable<std::uint64_t> pump(tcp::socket& from, tcp::socket& to, SpliceState& state,
                                    prometheus::Counter& bytes_metric) {
  std::array<char, 16384> chunk;
  std::uint64_t total = 0;
  for (;;) {
    auto [read_ec, n] = co_await from.async_read_some(asio::buffer(chunk), use_tuple);
    if (n > 0) {
      state.last_activity = clock::now();
      boost::system::error_code write_ec;
      auto written = send_now(to, asio::buffer(chunk.data(), n), write_ec);
      if (!write_ec && written < n) {  // the peer is slow: wait for room for the rest
        auto [async_ec, more] =
            co_await asio::async_write(to, asio::buffer(chunk.data() + written, n - written), use_tuple);
        write_ec = async_ec;
        written += more;
      }
      total += written;
      bytes_metric.Increment(static_cast<double>(written));
      if (write_ec) {
        state.close_both();
        co_return total;
      }
    }
    if (read_ec == asio::error::eof) {
      boost::system::error_code ignored;
      to.shutdown(tcp::socket::shutdown_send, ignored);  // pass the half-close on
      co_return total;
    }
    if (read_ec) {
      state.close_both();
      co_return total;
    }
  }
}

}  // namespace

std::size_t send_now(tcp::socket& socket, asio::const_buffer data, boost::system::error_code& ec) {
  ec = {};
  const auto* bytes = static_cast<const char*>(data.data());
  std::size_t sent = 0;
  while (sent < data.size()) {
    // MSG_DONTWAIT: non-blocking for this call only (no ioctl, the socket's mode is untouched).
    auto n = ::send(socket.native_handle(), bytes + sent, data.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;  // full: caller waits
    ec = n < 0 ? boost::system::error_code(errno, boost::system::system_category())
               : boost::system::error_code(asio::error::connection_reset);
    break;
  }
  return sent;
}

asio::awaitable<SpliceTotals> splice(tcp::socket& client, tcp::socket& upstream,
                                     std::chrono::milliseconds idle_timeout,
                                     std::chrono::milliseconds lifetime, ProxyMetrics& metrics) {
  using namespace asio::experimental::awaitable_operators;
  auto state = std::make_shared<SpliceState>(
      SpliceState{&client, &upstream, clock::now(), clock::now() + lifetime, idle_timeout});
  auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
  arm_watchdog(state, timer);
  auto [up, down] = co_await (pump(client, upstream, *state, metrics.bytes_up) &&
                              pump(upstream, client, *state, metrics.bytes_down));
  state->finished = true;
  timer->cancel();
  co_return SpliceTotals{up, down, state->timed_out};
}

}  // namespace sallyport::router

// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (the awaitable
// promise has its own operator new/delete pair); the allocation and deallocation do match.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include "router/forward_proxy.hpp"

#include "common/log.hpp"
#include "router/proxy_context.hpp"
#include "router/proxy_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/write.hpp>

#include <charconv>

namespace sallyport::router {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::optional<tcp::endpoint> parse_listen(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  auto port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535) return std::nullopt;
  boost::system::error_code address_ec;
  auto address = asio::ip::make_address(std::string(host), address_ec);
  if (address_ec) return std::nullopt;
  return tcp::endpoint(address, static_cast<unsigned short>(port));
}

std::string endpoint_text(const tcp::endpoint& endpoint) {
  auto address = endpoint.address();
  return (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) + ":" +
         std::to_string(endpoint.port());
}

void log_unexpected(std::exception_ptr failure) {
  if (!failure) return;
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    log::error("proxy", "connection ended by an unexpected exception", {{"error", e.what()}});
  }
}

// Over a connection cap: answer 503 at once and close, without reading the request.
asio::awaitable<void> refuse_over_capacity(std::shared_ptr<ProxyContext> context, tcp::socket socket,
                                           std::string client, std::string reason) {
  Refusal refusal{RefusalKind::over_capacity, reason, {}, "too many open connections"};
  EgressEvent event;
  event.client = std::move(client);
  event.method = "-";
  event.reason = reason;
  event.detail = refusal.detail;
  event.status = 503;
  context->metrics.error(error_kind_of(refusal));
  context->emit(event);
  auto response = refusal_response(refusal, 11);
  boost::beast::tcp_stream stream(std::move(socket));
  stream.expires_after(std::chrono::seconds(2));
  co_await boost::beast::http::async_write(stream, response, use_tuple);
}

}  // namespace

class ProxyListener : public std::enable_shared_from_this<ProxyListener> {
 public:
  ProxyListener(asio::io_context& ioc, std::shared_ptr<ProxyContext> context)
      : ioc_(ioc), context_(std::move(context)), acceptor_(asio::make_strand(ioc)) {}

  boost::system::error_code open(const tcp::endpoint& endpoint) {
    boost::system::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) local_ = acceptor_.local_endpoint(ec);
    return ec;
  }

  void spawn() {
    asio::co_spawn(acceptor_.get_executor(), accept_loop(shared_from_this()), log_unexpected);
  }

  void stop() {
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
      boost::system::error_code ignored;
      self->acceptor_.close(ignored);
    });
  }

  tcp::endpoint local() const { return local_; }

 private:
  static asio::awaitable<void> accept_loop(std::shared_ptr<ProxyListener> self) {
    for (;;) {
      // The peer address comes with accept() itself (no getpeername per connection).
      tcp::endpoint peer;
      auto [ec, socket] =
          co_await self->acceptor_.async_accept(asio::make_strand(self->ioc_), peer, use_tuple);
      if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) co_return;
      if (ec) {  // e.g. EMFILE: keep serving the connections we have
        self->context_->metrics.error("accept");
        log::warn("proxy", "accept failed", {{"error", ec.message()}});
        continue;
      }
      self->admit(std::move(socket), peer);
    }
  }

  void admit(tcp::socket socket, const tcp::endpoint& peer) {
    boost::system::error_code ec;
    auto address = peer.address().to_string();
    std::string client = peer.address().is_v6() ? "[" + address + "]:" : address + ":";
    client += std::to_string(peer.port());
    auto executor = socket.get_executor();
    auto control = std::make_shared<ConnectionControl>(executor);
    std::uint64_t id = 0;
    if (auto refused = context_->admit(address, control, id)) {
      asio::co_spawn(executor, refuse_over_capacity(context_, std::move(socket), client, *refused),
                     log_unexpected);
      return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto context = context_;
    asio::co_spawn(executor, run_connection(context, std::move(socket), control, std::move(client)),
                   [context, address, id](std::exception_ptr failure) {
                     context->release(address, id);
                     log_unexpected(failure);
                   });
  }

  asio::io_context& ioc_;
  std::shared_ptr<ProxyContext> context_;
  tcp::acceptor acceptor_;
  tcp::endpoint local_;
};

ForwardProxy::ForwardProxy(asio::io_context& ioc, ProxyOptions options, PolicySource policy,
                           prometheus::Registry& metrics,
                           std::function<void(const EgressEvent&)> on_event)
    : ioc_(ioc),
      context_(std::make_shared<ProxyContext>(std::move(options), std::move(policy), metrics,
                                              std::move(on_event))) {}

ForwardProxy::~ForwardProxy() {
  stop();
  close_all();
}

boost::system::error_code ForwardProxy::start() {
  auto endpoint = parse_listen(context_->options.listen);
  if (!endpoint) return asio::error::invalid_argument;
  auto listener = std::make_shared<ProxyListener>(ioc_, context_);
  if (auto ec = listener->open(*endpoint)) return ec;
  listener_ = std::move(listener);
  listener_->spawn();
  log::info("proxy", "forward proxy listening", {{"address", endpoint_text(listener_->local())}});
  return {};
}

tcp::endpoint ForwardProxy::local_endpoint() const { return listener_ ? listener_->local() : tcp::endpoint{}; }

void ForwardProxy::stop() {
  if (listener_) listener_->stop();
}

void ForwardProxy::close_all() { context_->close_all(); }

std::size_t ForwardProxy::active_connections() const { return context_->active(); }

}  // namespace sallyport::router

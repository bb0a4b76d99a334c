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
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/write.hpp>

#include <pthread.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <thread>

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
  // own_loop: `ioc` is one of the proxy's single-threaded event loops, so accepted connections
  // run on its executor directly; otherwise `ioc` is shared by several threads and each
  // connection gets a strand of it.
  ProxyListener(asio::io_context& ioc, std::shared_ptr<ProxyContext> context, bool own_loop)
      : ioc_(ioc),
        context_(std::move(context)),
        own_loop_(own_loop),
        acceptor_(own_loop ? asio::any_io_executor(ioc.get_executor())
                           : asio::any_io_executor(asio::make_strand(ioc))) {}

  boost::system::error_code open(const tcp::endpoint& endpoint, bool reuse_port) {
    boost::system::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    // Only sockets of the same effective UID may join a SO_REUSEPORT group, so another user
    // cannot bind into the proxy's port and take a share of the agent's connections.
    if (!ec && reuse_port)
      acceptor_.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true), ec);
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
  asio::any_io_executor connection_executor() const {
    if (own_loop_) return ioc_.get_executor();
    return asio::make_strand(ioc_);
  }

  static asio::awaitable<void> accept_loop(std::shared_ptr<ProxyListener> self) {
    for (;;) {
      // The peer address comes with accept() itself (no getpeername per connection).
      tcp::endpoint peer;
      auto [ec, socket] =
          co_await self->acceptor_.async_accept(self->connection_executor(), peer, use_tuple);
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
  const bool own_loop_;
  tcp::acceptor acceptor_;
  tcp::endpoint local_;
};

// One single-threaded io_context per loop; a work guard keeps each running until the proxy is
// destroyed (a loop with no connection and a closed acceptor must not exit early, start() may
// run before the first connection).
struct ProxyEventLoops {
  using WorkGuard = asio::executor_work_guard<asio::io_context::executor_type>;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<WorkGuard> guards;
  std::vector<std::thread> threads;

  explicit ProxyEventLoops(unsigned count) {
    for (unsigned i = 0; i < count; ++i) {
      // Concurrency hint 1: one thread runs it, so Asio skips its internal locking.
      contexts.push_back(std::make_unique<asio::io_context>(1));
      guards.push_back(asio::make_work_guard(*contexts.back()));
    }
  }

  void run() {
    for (std::size_t i = 0; i < contexts.size(); ++i)
      threads.emplace_back([this, i] {
        const std::string name = "sp-proxy-" + std::to_string(i);
        pthread_setname_np(pthread_self(), name.c_str());
        contexts[i]->run();
      });
  }

  // Stops and joins the threads; the io_contexts stay alive so the acceptors and sockets bound
  // to them can still be destroyed safely.
  void halt() {
    guards.clear();
    for (auto& context : contexts) context->stop();
    for (auto& thread : threads) thread.join();
    threads.clear();
  }

  // Whatever is still in flight (a DNS wait, a timer) is destroyed with its io_context, which
  // frees the coroutine frames and closes their sockets.
  ~ProxyEventLoops() { halt(); }
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
  if (loops_) loops_->halt();
  listeners_.clear();  // before the io_contexts their acceptors belong to
  loops_.reset();
}

boost::system::error_code ForwardProxy::start() {
  auto endpoint = parse_listen(context_->options.listen);
  if (!endpoint) return asio::error::invalid_argument;
  const unsigned loop_count = context_->options.event_loops;
  auto loops = loop_count > 0 ? std::make_unique<ProxyEventLoops>(loop_count) : nullptr;
  std::vector<std::shared_ptr<ProxyListener>> listeners;
  for (unsigned i = 0; i < std::max(1u, loop_count); ++i) {
    auto& ioc = loops ? *loops->contexts[i] : ioc_;
    auto listener = std::make_shared<ProxyListener>(ioc, context_, loops != nullptr);
    if (auto ec = listener->open(*endpoint, loops != nullptr)) return ec;
    endpoint->port(listener->local().port());  // port 0: the others join the port it was given
    listeners.push_back(std::move(listener));
  }
  listeners_ = std::move(listeners);
  for (auto& listener : listeners_) listener->spawn();
  if (loops) {
    loops_ = std::move(loops);
    loops_->run();
  }
  log::info("proxy", "forward proxy listening",
            {{"address", endpoint_text(listeners_.front()->local())},
             {"event_loops", static_cast<std::int64_t>(loop_count)}});
  return {};
}

tcp::endpoint ForwardProxy::local_endpoint() const {
  return listeners_.empty() ? tcp::endpoint{} : listeners_.front()->local();
}

void ForwardProxy::stop() {
  for (auto& listener : listeners_) listener->stop();
}

void ForwardProxy::close_all() { context_->close_all(); }

std::size_t ForwardProxy::active_connections() const { return context_->active(); }

}  // namespace sallyport::router

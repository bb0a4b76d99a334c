// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include "router/redis_client.hpp"

#include <hiredis/hiredis.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <charconv>
#include <deque>
#include <stdexcept>
#include <vector>

#include "common/log.hpp"

namespace sallyport::router {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using governance::RedisOutcome;
using governance::RedisReply;
using governance::RedisResult;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
using Clock = std::chrono::steady_clock;

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_INTEGER: out.type = RedisReply::Type::integer; out.integer = r->integer; break;
    case REDIS_REPLY_STRING: out.type = RedisReply::Type::string; out.text.assign(r->str, r->len); break;
    case REDIS_REPLY_STATUS: out.type = RedisReply::Type::status; out.text.assign(r->str, r->len); break;
    case REDIS_REPLY_ERROR: out.type = RedisReply::Type::error; out.text.assign(r->str, r->len); break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default: out.type = RedisReply::Type::nil; break;
  }
  return out;
}

// RESP bytes of one command (hiredis' encoder).
std::string encode(const std::vector<std::string>& argv) {
  std::vector<const char*> ptrs;
  std::vector<std::size_t> lens;
  ptrs.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  char* raw = nullptr;
  const int n = redisFormatCommandArgv(&raw, static_cast<int>(argv.size()), ptrs.data(), lens.data());
  if (n < 0 || raw == nullptr) return {};
  std::string out(raw, static_cast<std::size_t>(n));
  redisFreeCommand(raw);
  return out;
}

struct ReaderDeleter {
  void operator()(redisReader* r) const { redisReaderFree(r); }
};
using ReaderPtr = std::unique_ptr<redisReader, ReaderDeleter>;

// One in-flight command. `finished` is set when its callback has run (reply or deadline).
struct Pending {
  governance::RedisCommandSink::Done done;
  std::unique_ptr<asio::steady_timer> timer;
  bool finished = false;
  void finish(RedisResult result) {
    if (finished) return;
    finished = true;
    if (timer) timer->cancel();
    auto cb = std::move(done);
    cb(std::move(result));
  }
};

}  // namespace

// One connection attempt's socket (plain or TLS).
struct Transport {
  Transport(const asio::any_io_executor& ex, ssl::context* tls_ctx) : plain(ex) {
    if (tls_ctx) tls = std::make_unique<ssl::stream<tcp::socket>>(ex, *tls_ctx);
  }
  tcp::socket& socket() { return tls ? tls->next_layer() : plain; }
  void close() {
    boost::system::error_code ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
  }
  asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> read_some(asio::mutable_buffer b) {
    if (tls) co_return co_await tls->async_read_some(b, kTuple);
    co_return co_await plain.async_read_some(b, kTuple);
  }
  asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> write(asio::const_buffer b) {
    if (tls) co_return co_await asio::async_write(*tls, b, kTuple);
    co_return co_await asio::async_write(plain, b, kTuple);
  }
  tcp::socket plain;
  std::unique_ptr<ssl::stream<tcp::socket>> tls;
};

struct Connection {
  explicit Connection(const asio::any_io_executor& ex) : wake(ex), backoff_timer(ex) {}
  std::shared_ptr<Transport> transport;  // shared: a writer still finishing keeps its socket alive
  ReaderPtr reader;
  bool up = false;
  std::uint64_t generation = 0;
  std::string outbox;                              // encoded commands not yet written
  std::deque<std::shared_ptr<Pending>> in_flight;  // in the order their bytes were queued
  Clock::time_point last_rx{};
  asio::steady_timer wake;                         // wakes the writer
  asio::steady_timer backoff_timer;
  std::array<char, 16 * 1024> buffer{};
};

struct RedisClient::Impl : std::enable_shared_from_this<RedisClient::Impl> {
  Impl(asio::any_io_executor ex, RedisClientOptions o)
      : strand(asio::make_strand(ex)), options(std::move(o)) {
    if (options.pool_size == 0) options.pool_size = 1;
    if (options.endpoint.tls) {
      tls_ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
      tls_ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      boost::system::error_code ec;
      if (options.ca_file) {
        tls_ctx->load_verify_file(*options.ca_file, ec);
        if (ec) throw std::runtime_error("state_backend.ca_file " + *options.ca_file + ": " + ec.message());
      } else {
        tls_ctx->set_default_verify_paths(ec);
      }
      tls_ctx->set_verify_mode(ssl::verify_peer);
    }
    for (std::size_t i = 0; i < options.pool_size; ++i) {
      connections.push_back(std::make_shared<Connection>(strand));
    }
  }

  asio::strand<asio::any_io_executor> strand;
  RedisClientOptions options;
  std::unique_ptr<ssl::context> tls_ctx;
  std::vector<std::shared_ptr<Connection>> connections;
  std::atomic<std::size_t> live{0};
  std::atomic<std::uint64_t> reconnects{0};
  std::atomic<bool> stopping{false};
  std::size_t next = 0;
  bool logged_down = false;

  asio::awaitable<void> run(std::shared_ptr<Connection> c);
  asio::awaitable<std::string> open(Connection& c);
  asio::awaitable<std::optional<RedisReply>> round_trip(Connection& c, const std::vector<std::string>& argv);
  asio::awaitable<void> read_loop(std::shared_ptr<Connection> c);
  asio::awaitable<void> write_loop(std::shared_ptr<Connection> c, std::uint64_t generation);
  void submit(std::vector<std::string> argv, Done done);
  void drop(Connection& c, const std::string& why);
  void on_deadline(const std::shared_ptr<Connection>& c, std::uint64_t generation,
                   const std::shared_ptr<Pending>& p);
};

// Connect, TLS, AUTH, SELECT; returns "" or what failed. A timer closes the socket when the
// whole sequence overruns connect_timeout.
asio::awaitable<std::string> RedisClient::Impl::open(Connection& c) {
  c.transport = std::make_shared<Transport>(strand, tls_ctx.get());
  c.reader.reset(redisReaderCreate());
  // The handler may already be queued when open() returns: it owns what it touches.
  asio::steady_timer guard(strand);
  auto expired = std::make_shared<bool>(false);
  guard.expires_after(options.connect_timeout);
  guard.async_wait([transport = c.transport, expired](boost::system::error_code ec) {
    if (ec) return;
    *expired = true;
    transport->close();
  });
  const auto fail = [&](std::string what) { return *expired ? std::string("connect timeout") : what; };
  tcp::resolver resolver(strand);
  auto [rec, results] = co_await resolver.async_resolve(options.endpoint.host,
                                                         std::to_string(options.endpoint.port), kTuple);
  if (rec) co_return fail("resolve " + options.endpoint.host + ": " + rec.message());
  auto [cec, ep] = co_await asio::async_connect(c.transport->socket(), results, kTuple);
  if (cec) co_return fail("connect: " + cec.message());
  boost::system::error_code opt_ec;
  c.transport->socket().set_option(tcp::no_delay(true), opt_ec);
  if (c.transport->tls) {
    const auto& name = options.server_name ? *options.server_name : options.endpoint.host;
    boost::system::error_code addr_ec;
    asio::ip::make_address(name, addr_ec);
    if (addr_ec) SSL_set_tlsext_host_name(c.transport->tls->native_handle(), name.c_str());
    c.transport->tls->set_verify_callback(ssl::host_name_verification(name));
    auto [hec] = co_await c.transport->tls->async_handshake(ssl::stream_base::client, kTuple);
    if (hec) co_return fail("TLS handshake: " + hec.message());
  }
  if (options.password) {
    auto [password, error] = options.password();
    if (!error.empty()) co_return "AUTH password: " + error;
    if (password) {
      std::vector<std::string> argv;
      argv.emplace_back("AUTH");
      if (const auto& user = options.username ? options.username : options.endpoint.username) argv.push_back(*user);
      argv.push_back(std::move(*password));
      auto reply = co_await round_trip(c, argv);
      if (!reply) co_return fail("AUTH: connection lost");
      if (reply->is_error()) co_return "AUTH rejected: " + reply->text.substr(0, 120);
    }
  }
  if (options.endpoint.db != 0) {
    std::vector<std::string> select;  // (built outside co_await: GCC 12 coroutine bug)
    select.emplace_back("SELECT");
    select.push_back(std::to_string(options.endpoint.db));
    auto reply = co_await round_trip(c, select);
    if (!reply) co_return fail("SELECT: connection lost");
    if (reply->is_error()) co_return "SELECT rejected: " + reply->text.substr(0, 120);
  }
  guard.cancel();
  if (*expired) co_return "connect timeout";
  co_return std::string();
}

// One command outside the pipeline (during open only).
asio::awaitable<std::optional<RedisReply>> RedisClient::Impl::round_trip(Connection& c,
                                                                          const std::vector<std::string>& argv) {
  const auto bytes = encode(argv);
  auto [wec, wn] = co_await c.transport->write(asio::buffer(bytes));
  if (wec) co_return std::nullopt;
  for (;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(c.reader.get(), &raw) != REDIS_OK) co_return std::nullopt;
    if (raw) {
      auto reply = convert(static_cast<redisReply*>(raw));
      freeReplyObject(raw);
      co_return reply;
    }
    auto [rec, n] = co_await c.transport->read_some(asio::buffer(c.buffer));
    if (rec) co_return std::nullopt;
    redisReaderFeed(c.reader.get(), c.buffer.data(), n);
  }
}

asio::awaitable<void> RedisClient::Impl::run(std::shared_ptr<Connection> c) {
  auto self = shared_from_this();
  auto backoff = options.backoff_initial;
  while (!stopping.load()) {
    const auto error = co_await open(*c);
    if (stopping.load()) break;
    if (!error.empty()) {
      c->transport->close();
      if (!logged_down) {
        logged_down = true;
        log::warn("redis", "cannot connect to redis; retrying with backoff",
                  {{"host", options.endpoint.host}, {"port", options.endpoint.port}, {"error", error}});
      }
      c->backoff_timer.expires_after(backoff);
      co_await c->backoff_timer.async_wait(kTuple);
      backoff = std::min(backoff * 2, options.backoff_max);
      continue;
    }
    backoff = options.backoff_initial;
    if (logged_down || c->generation > 0) {
      log::info("redis", "connected to redis", {{"host", options.endpoint.host}, {"port", options.endpoint.port}});
    }
    logged_down = false;
    if (c->generation > 0) reconnects.fetch_add(1);
    ++c->generation;
    c->up = true;
    c->last_rx = Clock::now();
    live.fetch_add(1);
    asio::co_spawn(strand, write_loop(c, c->generation), asio::detached);
    co_await read_loop(c);
  }
}

asio::awaitable<void> RedisClient::Impl::read_loop(std::shared_ptr<Connection> c) {
  for (;;) {
    auto [ec, n] = co_await c->transport->read_some(asio::buffer(c->buffer));
    if (ec) {
      drop(*c, stopping.load() ? "client stopped" : "connection lost: " + ec.message());
      co_return;
    }
    c->last_rx = Clock::now();
    redisReaderFeed(c->reader.get(), c->buffer.data(), n);
    for (;;) {
      void* raw = nullptr;
      if (redisReaderGetReply(c->reader.get(), &raw) != REDIS_OK) {
        drop(*c, "protocol error from redis");
        co_return;
      }
      if (!raw) break;
      auto reply = convert(static_cast<redisReply*>(raw));
      freeReplyObject(raw);
      if (c->in_flight.empty()) {
        drop(*c, "unexpected reply from redis");
        co_return;
      }
      auto p = std::move(c->in_flight.front());
      c->in_flight.pop_front();
      p->finish({RedisOutcome::replied, std::move(reply), {}});
    }
  }
}

asio::awaitable<void> RedisClient::Impl::write_loop(std::shared_ptr<Connection> c, std::uint64_t generation) {
  const auto transport = c->transport;
  while (c->up && c->generation == generation) {
    if (c->outbox.empty()) {
      c->wake.expires_at(Clock::time_point::max());
      co_await c->wake.async_wait(kTuple);
      continue;
    }
    std::string bytes;
    bytes.swap(c->outbox);
    auto [ec, n] = co_await transport->write(asio::buffer(bytes));
    if (ec) {
      transport->close();  // the reader sees it and drops the connection
      co_return;
    }
  }
}

// Marks the connection down and fails everything still waiting on it.
void RedisClient::Impl::drop(Connection& c, const std::string& why) {
  if (c.up) live.fetch_sub(1);
  c.up = false;
  c.outbox.clear();
  c.wake.cancel();
  if (c.transport) c.transport->close();
  auto waiting = std::move(c.in_flight);
  c.in_flight.clear();
  for (auto& p : waiting) p->finish({RedisOutcome::unavailable, {}, why});
}

void RedisClient::Impl::on_deadline(const std::shared_ptr<Connection>& c, std::uint64_t generation,
                                    const std::shared_ptr<Pending>& p) {
  if (p->finished) return;
  p->finish({RedisOutcome::timeout, {}, "no reply within " + std::to_string(options.timeout.count()) + "ms"});
  // Silent for a whole deadline while a reply was due: treat the server as hung.
  if (c->up && c->generation == generation && Clock::now() - c->last_rx >= options.timeout) {
    log::warn("redis", "redis did not answer within the deadline; reconnecting",
              {{"timeout_ms", static_cast<long>(options.timeout.count())}});
    c->transport->close();
  }
}

void RedisClient::Impl::submit(std::vector<std::string> argv, Done done) {
  auto p = std::make_shared<Pending>();
  p->done = std::move(done);
  std::shared_ptr<Connection> best;
  for (std::size_t i = 0; i < connections.size(); ++i) {
    auto& c = connections[(next + i) % connections.size()];
    if (c->up && (!best || c->in_flight.size() < best->in_flight.size())) best = c;
  }
  next = (next + 1) % connections.size();
  if (stopping.load() || !best) {
    p->finish({RedisOutcome::unavailable, {}, stopping.load() ? "client stopped" : "no connection to redis"});
    return;
  }
  auto bytes = encode(argv);
  if (bytes.empty()) {
    p->finish({RedisOutcome::protocol_error, {}, "cannot encode the command"});
    return;
  }
  const bool idle = best->in_flight.empty();
  if (idle) best->last_rx = Clock::now();  // the silence clock starts with the first due reply
  best->outbox += bytes;
  best->in_flight.push_back(p);
  best->wake.cancel();
  p->timer = std::make_unique<asio::steady_timer>(strand);
  p->timer->expires_after(options.timeout);
  p->timer->async_wait([self = shared_from_this(), c = best, gen = best->generation, p](boost::system::error_code ec) {
    if (!ec) self->on_deadline(c, gen, p);
  });
}

RedisClient::RedisClient(asio::any_io_executor executor, RedisClientOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options))) {}

RedisClient::~RedisClient() { stop(); }

void RedisClient::start() {
  asio::post(impl_->strand, [impl = impl_] {
    for (auto& c : impl->connections) asio::co_spawn(impl->strand, impl->run(c), asio::detached);
  });
}

void RedisClient::stop() {
  if (impl_->stopping.exchange(true)) return;
  asio::post(impl_->strand, [impl = impl_] {
    for (auto& c : impl->connections) {
      c->backoff_timer.cancel();
      impl->drop(*c, "client stopped");
    }
  });
}

void RedisClient::execute(std::vector<std::string> argv, Done done) {
  asio::post(impl_->strand, [impl = impl_, argv = std::move(argv), done = std::move(done)]() mutable {
    impl->submit(std::move(argv), std::move(done));
  });
}

bool RedisClient::connected() const { return impl_->live.load() > 0; }
std::size_t RedisClient::live_connections() const { return impl_->live.load(); }
std::uint64_t RedisClient::reconnects() const { return impl_->reconnects.load(); }

// ---- URL ----------------------------------------------------------------------------------------

RedisEndpointResult parse_redis_url(std::string_view url) {
  RedisEndpointResult out;
  RedisEndpoint ep;
  const auto fail = [&](std::string why) {
    out.error = "state_backend.url: " + why + " (expected redis://[user@]host[:port][/db] or rediss://…)";
    return out;
  };
  if (url.rfind("redis://", 0) == 0) {
    url.remove_prefix(8);
  } else if (url.rfind("rediss://", 0) == 0) {
    ep.tls = true;
    url.remove_prefix(9);
  } else {
    return fail("unknown scheme");
  }
  if (const auto slash = url.find('/'); slash != std::string_view::npos) {
    const auto db = url.substr(slash + 1);
    url = url.substr(0, slash);
    if (!db.empty()) {
      auto [ptr, ec] = std::from_chars(db.data(), db.data() + db.size(), ep.db);
      if (ec != std::errc() || ptr != db.data() + db.size() || ep.db < 0 || ep.db > 15) {
        return fail("database must be a number 0..15");
      }
    }
  }
  if (const auto at = url.rfind('@'); at != std::string_view::npos) {
    const auto user = url.substr(0, at);
    if (user.find(':') != std::string_view::npos) return fail("a password must not be inline");
    if (!user.empty()) ep.username = std::string(user);
    url = url.substr(at + 1);
  }
  std::string_view port;
  if (!url.empty() && url.front() == '[') {
    const auto close = url.find(']');
    if (close == std::string_view::npos) return fail("unterminated IPv6 literal");
    ep.host = std::string(url.substr(1, close - 1));
    const auto rest = url.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fail("junk after the IPv6 literal");
      port = rest.substr(1);
    }
  } else if (const auto colon = url.rfind(':'); colon != std::string_view::npos) {
    ep.host = std::string(url.substr(0, colon));
    port = url.substr(colon + 1);
  } else {
    ep.host = std::string(url);
  }
  if (ep.host.empty()) return fail("host is missing");
  for (const char ch : ep.host) {
    if (ch <= ' ' || ch == '/' || ch == '?' || ch == '#' || static_cast<unsigned char>(ch) >= 0x7f) {
      return fail("host has an invalid character");
    }
  }
  if (!port.empty()) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535) {
      return fail("port must be 1..65535");
    }
    ep.port = static_cast<std::uint16_t>(value);
  }
  out.endpoint = std::move(ep);
  return out;
}

}  // namespace sallyport::router

// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <future>
#include <thread>

#include "router/redis_client.hpp"

namespace sallyport::router {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using governance::RedisOutcome;
using governance::RedisReply;
using governance::RedisResult;

TEST(RedisUrlTest, AcceptsTheDocumentedForms) {
  auto a = parse_redis_url("redis://127.0.0.1:6380");
  ASSERT_TRUE(a.endpoint) << a.error;
  EXPECT_FALSE(a.endpoint->tls);
  EXPECT_EQ(a.endpoint->host, "127.0.0.1");
  EXPECT_EQ(a.endpoint->port, 6380);
  auto b = parse_redis_url("rediss://sallyport@redis.internal/3");
  ASSERT_TRUE(b.endpoint) << b.error;
  EXPECT_TRUE(b.endpoint->tls);
  EXPECT_EQ(b.endpoint->port, 6379);
  EXPECT_EQ(b.endpoint->username, "sallyport");
  EXPECT_EQ(b.endpoint->db, 3);
  auto c = parse_redis_url("redis://[::1]:7000");
  ASSERT_TRUE(c.endpoint) << c.error;
  EXPECT_EQ(c.endpoint->host, "::1");
  EXPECT_EQ(c.endpoint->port, 7000);
}

TEST(RedisUrlTest, RejectsWithAClearMessage) {
  for (const char* bad : {"http://h:1", "redis://", "redis://h:0", "redis://h:70000", "redis://h:x",
                          "redis://u:secret@h:1", "redis://h/99", "redis://[::1", "redis://h h:1"}) {
    const auto r = parse_redis_url(bad);
    EXPECT_FALSE(r.endpoint) << bad;
    EXPECT_NE(r.error.find("state_backend.url"), std::string::npos) << bad;
  }
  EXPECT_NE(parse_redis_url("redis://u:pw@h").error.find("password"), std::string::npos);
}

// A scripted server: for every complete command it has read (counted by lines starting with
// '*'), it answers with the next canned reply, or stays silent when the script says so.
class FakeRedis {
 public:
  enum class Mode { answer_pong, silent, close_after_first };

  explicit FakeRedis(Mode mode) : mode_(mode), acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeRedis() {
    stop_ = true;
    {  // wakes a blocking accept() (closing the fd from another thread would not)
      asio::io_context io;
      tcp::socket poke(io);
      boost::system::error_code ignored;
      poke.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ignored);
    }
    if (thread_.joinable()) thread_.join();
  }
  std::uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }

 private:
  void serve() {
    while (!stop_) {
      tcp::socket s(io_);
      boost::system::error_code ec;
      acceptor_.accept(s, ec);
      if (ec || stop_) return;
      accepted_.fetch_add(1);
      std::string pending;
      char buf[4096];
      int answered = 0;
      for (;;) {
        const auto n = s.read_some(asio::buffer(buf), ec);
        if (ec) break;
        pending.append(buf, n);
        // Each test command is a one-argument PING: "*1\r\n$4\r\nPING\r\n" (14 bytes).
        while (pending.size() >= 14) {
          pending.erase(0, 14);
          if (mode_ == Mode::silent) continue;
          asio::write(s, asio::buffer(std::string("+PONG\r\n")), ec);
          if (++answered == 1 && mode_ == Mode::close_after_first) s.close(ec);
        }
        if (!s.is_open()) break;
      }
    }
  }

  Mode mode_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
};

struct ClientFixture {
  explicit ClientFixture(std::uint16_t port, std::size_t pool = 1) {
    RedisClientOptions o;
    o.endpoint.host = "127.0.0.1";
    o.endpoint.port = port;
    o.pool_size = pool;
    o.timeout = std::chrono::milliseconds(100);
    o.connect_timeout = std::chrono::milliseconds(500);
    o.backoff_initial = std::chrono::milliseconds(10);
    o.backoff_max = std::chrono::milliseconds(40);
    client = std::make_unique<RedisClient>(io.get_executor(), o);
    client->start();
    thread = std::thread([this] { io.run(); });
  }
  ~ClientFixture() {
    client->stop();
    work.reset();
    io.stop();
    thread.join();
  }
  RedisResult call(std::vector<std::string> argv) {
    std::promise<RedisResult> p;
    auto f = p.get_future();
    client->execute(std::move(argv), [&p](RedisResult r) { p.set_value(std::move(r)); });
    return f.get();  // the client's deadline guarantees an answer
  }
  // Polls until the pool has a live connection (bounded: 200 × 10 ms).
  bool wait_connected() {
    for (int i = 0; i < 200 && !client->connected(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return client->connected();
  }

  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{io.get_executor()};
  std::unique_ptr<RedisClient> client;
  std::thread thread;
};

TEST(RedisClientTest, RepliesArriveInOrderThroughThePipeline) {
  FakeRedis server(FakeRedis::Mode::answer_pong);
  ClientFixture f(server.port(), 1);  // the fake serves one connection at a time
  ASSERT_TRUE(f.wait_connected());
  std::vector<std::promise<RedisResult>> promises(20);
  for (auto& p : promises) f.client->execute({"PING"}, [&p](RedisResult r) { p.set_value(std::move(r)); });
  for (auto& p : promises) {
    const auto r = p.get_future().get();
    ASSERT_EQ(r.outcome, RedisOutcome::replied) << r.detail;
    EXPECT_EQ(r.reply.type, RedisReply::Type::status);
    EXPECT_EQ(r.reply.text, "PONG");
  }
}

TEST(RedisClientTest, NoServerFailsAtOnceAsUnavailable) {
  std::uint16_t port;
  {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }  // closed: nothing listens on `port`
  ClientFixture f(port);
  const auto r = f.call({"PING"});
  EXPECT_EQ(r.outcome, RedisOutcome::unavailable);
  EXPECT_FALSE(f.client->connected());
}

TEST(RedisClientTest, SilentServerHitsTheDeadlineAndTheConnectionIsRecycled) {
  FakeRedis server(FakeRedis::Mode::silent);
  ClientFixture f(server.port());
  ASSERT_TRUE(f.wait_connected());
  const auto r = f.call({"PING"});
  EXPECT_EQ(r.outcome, RedisOutcome::timeout);
  EXPECT_NE(r.detail.find("no reply within"), std::string::npos);
  // The hung connection is closed and a new one opened (bounded wait, no timing asserted).
  for (int i = 0; i < 200 && server.accepted() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_GE(server.accepted(), 2);
}

TEST(RedisClientTest, ReconnectsAfterTheServerDropsTheConnection) {
  FakeRedis server(FakeRedis::Mode::close_after_first);
  ClientFixture f(server.port());
  ASSERT_TRUE(f.wait_connected());
  EXPECT_EQ(f.call({"PING"}).outcome, RedisOutcome::replied);
  // The server hung up: calls fail (or succeed on the new connection) but never hang, and the
  // pool comes back.
  for (int i = 0; i < 200 && server.accepted() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_GE(server.accepted(), 2);
  ASSERT_TRUE(f.wait_connected());
  RedisResult r;
  for (int i = 0; i < 50; ++i) {
    r = f.call({"PING"});
    if (r.outcome == RedisOutcome::replied) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(r.outcome, RedisOutcome::replied);
  EXPECT_GE(f.client->reconnects(), 1u);
}

TEST(RedisClientTest, StoppedClientFailsCalls) {
  FakeRedis server(FakeRedis::Mode::answer_pong);
  ClientFixture f(server.port());
  ASSERT_TRUE(f.wait_connected());
  f.client->stop();
  EXPECT_EQ(f.call({"PING"}).outcome, RedisOutcome::unavailable);
}

}  // namespace
}  // namespace sallyport::router

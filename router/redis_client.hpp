#pragma once
// A small Redis connection pool driven by the Asio event loop. Sockets are Asio's (plain TCP or
// ssl::stream for rediss://); hiredis does the protocol only: redisFormatCommandArgv encodes,
// redisReader decodes. That gives TLS with Debian's hiredis 0.14 (which has none of its own)
// and no home-made RESP code.
//
// Behaviour:
//   - pool_size connections, each opened on start(): connect → TLS handshake (CA file, server
//     name verified, SNI) → AUTH [user] password → SELECT db, all within connect_timeout.
//   - commands are pipelined on the live connection with the fewest outstanding replies;
//     with no live connection a command fails at once (RedisOutcome::unavailable).
//   - every command has a deadline (`timeout`): its callback runs with RedisOutcome::timeout
//     when it passes; a connection that received nothing for a whole deadline while a reply
//     was due is closed (a hung server must not pin callers), and its other commands fail.
//   - a lost connection reconnects with exponential backoff (backoff_initial doubling up to
//     backoff_max); the password is resolved again at every connect (rotated secret files).
// All state lives on one strand; callbacks run on it (post to your own executor from them).
// Thread-safe: execute() may be called from any thread.
#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "governance/redis_command.hpp"

namespace sallyport::router {

struct RedisEndpoint {
  bool tls = false;             // rediss://
  std::string host;             // name or IP literal (brackets removed)
  std::uint16_t port = 6379;
  std::optional<std::string> username;  // redis://user@host
  int db = 0;                   // redis://host/2
};

struct RedisEndpointResult {
  std::optional<RedisEndpoint> endpoint;
  std::string error;  // what is wrong and what is expected
};

// redis://[user@]host[:port][/db] | rediss://…; a password in the URL is rejected (secrets are
// never inline: use the password {env|file} reference).
RedisEndpointResult parse_redis_url(std::string_view url);

struct RedisClientOptions {
  RedisEndpoint endpoint;
  std::optional<std::string> ca_file;      // rediss: trust anchors (default: system store)
  std::optional<std::string> server_name;  // rediss: name to verify (default: endpoint.host)
  std::optional<std::string> username;     // AUTH user; overrides the URL's
  // AUTH password, resolved at each connect; nullopt = no AUTH. An error text instead of a
  // value (second member) makes the connect fail with that text.
  std::function<std::pair<std::optional<std::string>, std::string>()> password;
  std::size_t pool_size = 2;
  std::chrono::milliseconds timeout{50};
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds backoff_initial{50};
  std::chrono::milliseconds backoff_max{2000};
};

class RedisClient final : public governance::RedisCommandSink {
 public:
  // Throws std::runtime_error at start-up when the TLS settings cannot be loaded (ca_file).
  RedisClient(boost::asio::any_io_executor executor, RedisClientOptions options);
  ~RedisClient() override;
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  void start();  // opens the pool (asynchronously)
  void stop();   // closes every connection; pending commands fail; no reconnects

  void execute(std::vector<std::string> argv, Done done) override;
  [[nodiscard]] bool connected() const override;
  [[nodiscard]] std::size_t live_connections() const;
  [[nodiscard]] std::uint64_t reconnects() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace sallyport::router

#pragma once
// The seam between the Redis state backend (governance/, Asio-free) and the connection pool
// that talks to Redis (router/redis_client.hpp: Asio sockets + hiredis encoder/decoder).
// Tests substitute a fake RedisCommandSink to drive every reply and failure path.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace sallyport::governance {

// A decoded RESP2 reply.
struct RedisReply {
  enum class Type : std::uint8_t { nil, integer, string, status, error, array };
  Type type = Type::nil;
  std::int64_t integer = 0;
  std::string text;  // string, status, error
  std::vector<RedisReply> elements;

  [[nodiscard]] bool is_error() const noexcept { return type == Type::error; }
  static RedisReply make_integer(std::int64_t v) { return {Type::integer, v, {}, {}}; }
  static RedisReply make_string(std::string s) { return {Type::string, 0, std::move(s), {}}; }
  static RedisReply make_status(std::string s) { return {Type::status, 0, std::move(s), {}}; }
  static RedisReply make_error(std::string s) { return {Type::error, 0, std::move(s), {}}; }
  static RedisReply make_array(std::vector<RedisReply> e) { return {Type::array, 0, {}, std::move(e)}; }
};

// How a command ended. Anything but `replied` means Redis may or may not have executed it
// (timeout after the bytes left) or certainly did not (unavailable: no live connection).
enum class RedisOutcome : std::uint8_t { replied, timeout, unavailable, protocol_error };
std::string_view to_string(RedisOutcome outcome) noexcept;

struct RedisResult {
  RedisOutcome outcome = RedisOutcome::unavailable;
  RedisReply reply;    // when replied (may itself be an error reply)
  std::string detail;  // when not replied: what failed (no secrets)
};

class RedisCommandSink {
 public:
  using Done = std::function<void(RedisResult)>;
  virtual ~RedisCommandSink() = default;
  // Sends one command; `done` runs exactly once, at the latest when the sink's deadline passes.
  virtual void execute(std::vector<std::string> argv, Done done) = 0;
  // At least one connection is established (and authenticated).
  [[nodiscard]] virtual bool connected() const = 0;
};

}  // namespace sallyport::governance

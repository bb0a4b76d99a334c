#pragma once
// Request-rate and token-rate limits (token buckets) and a concurrency limiter with a bounded
// wait queue, for the inference gateway. Beast/Asio-free; time is injected.
//
// RateLimiter: two buckets. Requests bucket: capacity = burst (default rpm), refilled at rpm/60
// per second. Tokens bucket: capacity = burst (default tpm), refilled at tpm/60 per second.
// check(tokens) takes one request and `tokens` tokens atomically: if either bucket lacks room,
// nothing is taken and the result is a deny Decision ("rate:rpm" or "rate:tpm") with
// retry_after_seconds = whole seconds until both have room (≥ 1). A request needing more tokens
// than the tokens bucket can ever hold is denied with rule "tpm:exceeds-burst".
// adjust_tokens(delta) corrects the token bucket after the actual usage is known
// (negative = refund, never above capacity; positive = debit, may go negative = debt).
// Limits of 0 disable that bucket. Headers mirror OpenAI's x-ratelimit-* names.
//
// ConcurrencyLimiter: at most max_concurrent permits; up to max_queue waiters queue in FIFO
// order. try_acquire() answers at once: granted (a Permit), queued (a Ticket; the callback is
// invoked with the Permit when a slot frees — on the releasing thread, outside the lock, so
// an Asio caller should post/dispatch to its own executor from it), or rejected (queue full:
// Decision "rate:concurrency", map to 503 + Retry-After). cancel(ticket) withdraws a waiter
// (client gone, wait timeout); it returns false if the permit was already handed over, in
// which case the callback has run or is running and owns the permit.
// Permits are RAII and may outlive the limiter.
//
// Thread-safe.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/decision.hpp"

namespace sallyport::governance {

using MonotonicClock = std::function<std::chrono::steady_clock::time_point()>;

// A token bucket; not synchronised (RateLimiter holds the lock).
class TokenBucket {
 public:
  TokenBucket() = default;
  TokenBucket(double capacity, double refill_per_second, std::chrono::steady_clock::time_point now);

  void refill(std::chrono::steady_clock::time_point now);
  [[nodiscard]] bool enabled() const noexcept { return capacity_ > 0; }
  [[nodiscard]] double capacity() const noexcept { return capacity_; }
  [[nodiscard]] double available() const noexcept { return tokens_; }
  [[nodiscard]] bool can_take(double amount) const noexcept { return tokens_ >= amount; }
  void take(double amount) noexcept { tokens_ -= amount; }
  void give_back(double amount) noexcept;
  // Seconds until `amount` is available (0 if it is now); infinity-free: capped by capacity.
  [[nodiscard]] double seconds_until(double amount) const noexcept;
  [[nodiscard]] double seconds_until_full() const noexcept { return seconds_until(capacity_); }

 private:
  double capacity_ = 0;
  double refill_per_second_ = 0;
  double tokens_ = 0;
  std::chrono::steady_clock::time_point last_{};
};

// Config: rate_limits {rpm, tpm, …}.
struct RateLimits {
  std::int64_t requests_per_minute = 0;  // rate_limits.rpm; 0 = off
  std::int64_t tokens_per_minute = 0;    // rate_limits.tpm; 0 = off
  std::int64_t request_burst = 0;        // 0 = rpm
  std::int64_t token_burst = 0;          // 0 = tpm
};

// Values for OpenAI-style response headers (x-ratelimit-limit-requests, …). Empty fields mean
// "that limit is off": do not send the header.
struct RateLimitHeaders {
  std::optional<std::int64_t> limit_requests, remaining_requests;
  std::optional<std::string> reset_requests;  // e.g. "1s", "6m0s", "250ms": time until full
  std::optional<std::int64_t> limit_tokens, remaining_tokens;
  std::optional<std::string> reset_tokens;

  // (name, value) pairs ready to add to a response.
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> to_list() const;
};

struct RateResult {
  Decision decision;  // allow("rate:ok") | deny("rate:rpm"|"rate:tpm", rule)
  std::int64_t retry_after_seconds = 0;  // set on deny (≥ 1)
  RateLimitHeaders headers;
};

class RateLimiter {
 public:
  explicit RateLimiter(RateLimits limits, MonotonicClock clock = {});

  RateResult check(std::int64_t estimated_tokens);
  void adjust_tokens(std::int64_t delta);
  [[nodiscard]] RateLimitHeaders headers();

 private:
  RateLimitHeaders headers_locked() const;

  RateLimits limits_;
  MonotonicClock clock_;
  std::mutex mutex_;
  TokenBucket requests_;
  TokenBucket tokens_;
};

// "1s", "6m0s", "1h2m3s", "250ms" (Go duration style, as OpenAI sends).
std::string format_reset_duration(double seconds);

// ---- concurrency ---------------------------------------------------------------------------

class ConcurrencyLimiter;

// Holds one concurrency slot; releasing (destruction or reset()) hands it to the next waiter.
class ConcurrencyPermit {
 public:
  ConcurrencyPermit() = default;
  ConcurrencyPermit(ConcurrencyPermit&& other) noexcept : state_(std::move(other.state_)) {}
  ConcurrencyPermit& operator=(ConcurrencyPermit&& other) noexcept;
  ConcurrencyPermit(const ConcurrencyPermit&) = delete;
  ConcurrencyPermit& operator=(const ConcurrencyPermit&) = delete;
  ~ConcurrencyPermit() { reset(); }

  void reset();
  [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }

 private:
  friend class ConcurrencyLimiter;
  struct State;
  explicit ConcurrencyPermit(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

// Config: rate_limits {max_concurrent, queue}.
struct ConcurrencyLimits {
  std::int64_t max_concurrent = 0;  // rate_limits.max_concurrent; 0 = unlimited
  std::int64_t max_queue = 0;       // rate_limits.queue; 0 = reject when all slots are busy
};

enum class AcquireStatus : std::uint8_t { granted, queued, rejected };

struct AcquireResult {
  AcquireStatus status = AcquireStatus::rejected;
  ConcurrencyPermit permit;    // granted
  std::uint64_t ticket = 0;    // queued: pass to cancel()
  Decision decision;           // rejected: deny("rate:concurrency", "max_concurrent=N,queue=M")
};

class ConcurrencyLimiter {
 public:
  using OnGranted = std::function<void(ConcurrencyPermit)>;

  explicit ConcurrencyLimiter(ConcurrencyLimits limits);
  ~ConcurrencyLimiter();

  // on_granted is only used (and only kept) when the result is `queued`.
  AcquireResult try_acquire(OnGranted on_granted);
  bool cancel(std::uint64_t ticket);

  [[nodiscard]] std::int64_t in_use() const;
  [[nodiscard]] std::int64_t queued() const;

 private:
  std::shared_ptr<ConcurrencyPermit::State> state_;
};

}  // namespace sallyport::governance

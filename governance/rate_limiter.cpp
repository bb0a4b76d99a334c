#include "governance/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace sallyport::governance {

// ---- token bucket --------------------------------------------------------------------------

TokenBucket::TokenBucket(double capacity, double refill_per_second,
                         std::chrono::steady_clock::time_point now)
    : capacity_(capacity), refill_per_second_(refill_per_second), tokens_(capacity), last_(now) {}

void TokenBucket::refill(std::chrono::steady_clock::time_point now) {
  if (now <= last_) return;  // a clock that steps back must not mint tokens
  const double elapsed = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(capacity_, tokens_ + elapsed * refill_per_second_);
  last_ = now;
}

void TokenBucket::give_back(double amount) noexcept {
  tokens_ = std::min(capacity_, tokens_ + amount);
}

double TokenBucket::seconds_until(double amount) const noexcept {
  if (tokens_ >= amount) return 0;
  if (refill_per_second_ <= 0) return 60;
  return (std::min(amount, capacity_) - tokens_) / refill_per_second_;
}

std::string format_reset_duration(double seconds) {
  if (seconds <= 0) return "0s";
  if (seconds < 1) {
    return std::to_string(static_cast<std::int64_t>(std::ceil(seconds * 1000))) + "ms";
  }
  auto total = static_cast<std::int64_t>(std::ceil(seconds));
  const std::int64_t hours = total / 3600;
  const std::int64_t minutes = (total % 3600) / 60;
  const std::int64_t secs = total % 60;
  std::string out;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
  out += std::to_string(secs) + "s";
  return out;
}

// ---- rate limiter --------------------------------------------------------------------------

std::vector<std::pair<std::string, std::string>> RateLimitHeaders::to_list() const {
  std::vector<std::pair<std::string, std::string>> out;
  if (limit_requests) out.emplace_back("x-ratelimit-limit-requests", std::to_string(*limit_requests));
  if (remaining_requests) {
    out.emplace_back("x-ratelimit-remaining-requests", std::to_string(*remaining_requests));
  }
  if (reset_requests) out.emplace_back("x-ratelimit-reset-requests", *reset_requests);
  if (limit_tokens) out.emplace_back("x-ratelimit-limit-tokens", std::to_string(*limit_tokens));
  if (remaining_tokens) {
    out.emplace_back("x-ratelimit-remaining-tokens", std::to_string(*remaining_tokens));
  }
  if (reset_tokens) out.emplace_back("x-ratelimit-reset-tokens", *reset_tokens);
  return out;
}

RateLimiter::RateLimiter(RateLimits limits, MonotonicClock clock)
    : limits_(limits), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::steady_clock::now(); };
  const auto now = clock_();
  if (limits_.requests_per_minute > 0) {
    const auto burst = limits_.request_burst > 0 ? limits_.request_burst
                                                 : limits_.requests_per_minute;
    requests_ = TokenBucket(static_cast<double>(burst),
                            static_cast<double>(limits_.requests_per_minute) / 60.0, now);
  }
  if (limits_.tokens_per_minute > 0) {
    const auto burst = limits_.token_burst > 0 ? limits_.token_burst : limits_.tokens_per_minute;
    tokens_ = TokenBucket(static_cast<double>(burst),
                          static_cast<double>(limits_.tokens_per_minute) / 60.0, now);
  }
}

RateLimitHeaders RateLimiter::headers_locked() const {
  RateLimitHeaders headers;
  if (requests_.enabled()) {
    headers.limit_requests = limits_.requests_per_minute;
    headers.remaining_requests =
        std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(requests_.available())));
    headers.reset_requests = format_reset_duration(requests_.seconds_until_full());
  }
  if (tokens_.enabled()) {
    headers.limit_tokens = limits_.tokens_per_minute;
    headers.remaining_tokens =
        std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(tokens_.available())));
    headers.reset_tokens = format_reset_duration(tokens_.seconds_until_full());
  }
  return headers;
}

RateLimitHeaders RateLimiter::headers() {
  std::lock_guard lock(mutex_);
  const auto now = clock_();
  requests_.refill(now);
  tokens_.refill(now);
  return headers_locked();
}

RateResult RateLimiter::check(std::int64_t estimated_tokens) {
  std::lock_guard lock(mutex_);
  const auto now = clock_();
  requests_.refill(now);
  tokens_.refill(now);
  const double wanted_tokens = static_cast<double>(std::max<std::int64_t>(0, estimated_tokens));
  RateResult result;
  const bool requests_ok = !requests_.enabled() || requests_.can_take(1);
  const bool tokens_ok = !tokens_.enabled() || tokens_.can_take(wanted_tokens);
  if (requests_ok && tokens_ok) {
    if (requests_.enabled()) requests_.take(1);
    if (tokens_.enabled()) tokens_.take(wanted_tokens);
    result.decision = Decision::allow("rate:ok");
    result.headers = headers_locked();
    return result;
  }
  double wait = 0;
  if (!requests_ok) {
    wait = requests_.seconds_until(1);
    result.decision = Decision::deny("rate:rpm", "rpm=" + std::to_string(limits_.requests_per_minute));
  }
  if (!tokens_ok) {
    wait = std::max(wait, tokens_.seconds_until(wanted_tokens));
    if (requests_ok) {
      const bool never = wanted_tokens > tokens_.capacity();
      result.decision = Decision::deny(
          "rate:tpm", never ? "tpm:exceeds-burst" : "tpm=" + std::to_string(limits_.tokens_per_minute),
          "request needs " + std::to_string(static_cast<std::int64_t>(wanted_tokens)) + " tokens");
    }
  }
  result.retry_after_seconds = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(wait)));
  result.headers = headers_locked();
  return result;
}

void RateLimiter::adjust_tokens(std::int64_t delta) {
  std::lock_guard lock(mutex_);
  if (!tokens_.enabled() || delta == 0) return;
  tokens_.refill(clock_());
  if (delta < 0) {
    tokens_.give_back(static_cast<double>(-delta));
  } else {
    tokens_.take(static_cast<double>(delta));
  }
}

// ---- concurrency limiter ---------------------------------------------------------------------

struct ConcurrencyPermit::State {
  struct Waiter {
    std::uint64_t ticket;
    ConcurrencyLimiter::OnGranted on_granted;
  };
  mutable std::mutex mutex;
  ConcurrencyLimits limits;
  std::int64_t in_use = 0;
  std::deque<Waiter> waiters;
  std::uint64_t next_ticket = 1;

  void release_one(const std::shared_ptr<State>& self) {
    ConcurrencyLimiter::OnGranted next;
    {
      std::lock_guard lock(mutex);
      if (waiters.empty()) {
        --in_use;
        return;
      }
      next = std::move(waiters.front().on_granted);  // the slot passes on, in_use unchanged
      waiters.pop_front();
    }
    if (next) {
      next(ConcurrencyPermit(self));
    } else {
      ConcurrencyPermit dropped(self);  // no callback: release again right away
    }
  }
};

ConcurrencyPermit& ConcurrencyPermit::operator=(ConcurrencyPermit&& other) noexcept {
  if (this != &other) {
    reset();
    state_ = std::move(other.state_);
  }
  return *this;
}

void ConcurrencyPermit::reset() {
  if (!state_) return;
  auto state = std::move(state_);
  state->release_one(state);
}

ConcurrencyLimiter::ConcurrencyLimiter(ConcurrencyLimits limits)
    : state_(std::make_shared<ConcurrencyPermit::State>()) {
  state_->limits = limits;
}

ConcurrencyLimiter::~ConcurrencyLimiter() {
  // Waiters still queued are dropped uncalled; the gateway cancels them before shutdown.
  std::deque<ConcurrencyPermit::State::Waiter> dropped;
  std::lock_guard lock(state_->mutex);
  dropped.swap(state_->waiters);
}

AcquireResult ConcurrencyLimiter::try_acquire(OnGranted on_granted) {
  AcquireResult result;
  std::lock_guard lock(state_->mutex);
  const ConcurrencyLimits& limits = state_->limits;
  if (limits.max_concurrent <= 0 || state_->in_use < limits.max_concurrent) {
    ++state_->in_use;
    result.status = AcquireStatus::granted;
    result.permit = ConcurrencyPermit(state_);
    result.decision = Decision::allow("rate:ok");
    return result;
  }
  if (static_cast<std::int64_t>(state_->waiters.size()) < limits.max_queue) {
    result.ticket = state_->next_ticket++;
    state_->waiters.push_back({result.ticket, std::move(on_granted)});
    result.status = AcquireStatus::queued;
    result.decision = Decision::allow("rate:queued");
    return result;
  }
  result.status = AcquireStatus::rejected;
  result.decision = Decision::deny("rate:concurrency",
                                   "max_concurrent=" + std::to_string(limits.max_concurrent) +
                                       ",queue=" + std::to_string(limits.max_queue));
  return result;
}

bool ConcurrencyLimiter::cancel(std::uint64_t ticket) {
  ConcurrencyLimiter::OnGranted removed;  // destroyed outside the lock
  std::lock_guard lock(state_->mutex);
  auto& waiters = state_->waiters;
  const auto it = std::find_if(waiters.begin(), waiters.end(),
                               [&](const auto& w) { return w.ticket == ticket; });
  if (it == waiters.end()) return false;
  removed = std::move(it->on_granted);
  waiters.erase(it);
  return true;
}

std::int64_t ConcurrencyLimiter::in_use() const {
  std::lock_guard lock(state_->mutex);
  return state_->in_use;
}

std::int64_t ConcurrencyLimiter::queued() const {
  std::lock_guard lock(state_->mutex);
  return static_cast<std::int64_t>(state_->waiters.size());
}

}  // namespace sallyport::governance

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "governance/rate_limiter.hpp"

namespace sallyport::governance {
namespace {

using namespace std::chrono_literals;
using std::chrono::steady_clock;

struct ManualClock {
  std::shared_ptr<steady_clock::time_point> now =
      std::make_shared<steady_clock::time_point>(steady_clock::time_point(1000s));
  MonotonicClock fn() const {
    auto n = now;
    return [n] { return *n; };
  }
  void advance(steady_clock::duration by) { *now += by; }
};

std::string header(const RateLimitHeaders& h, std::string_view name) {
  for (const auto& [k, v] : h.to_list()) {
    if (k == name) return v;
  }
  return "<absent>";
}

TEST(TokenBucket, RefillMath) {
  const steady_clock::time_point t0(0s);
  TokenBucket bucket(10, 2, t0);  // burst 10, 2 per second
  EXPECT_TRUE(bucket.can_take(10));
  bucket.take(10);
  EXPECT_DOUBLE_EQ(bucket.seconds_until(1), 0.5);
  bucket.refill(t0 + 1500ms);
  EXPECT_DOUBLE_EQ(bucket.available(), 3);
  bucket.refill(t0 + 100s);
  EXPECT_DOUBLE_EQ(bucket.available(), 10);  // never above capacity
  bucket.refill(t0 + 50s);                   // clock stepping back mints nothing
  EXPECT_DOUBLE_EQ(bucket.available(), 10);
}

TEST(RateLimiter, RequestsPerMinuteWithRetryAfter) {
  ManualClock clock;
  RateLimiter limiter(RateLimits{60, 0, 3, 0}, clock.fn());  // 1 rps, burst 3
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.check(0).decision.allowed()) << i;
  RateResult denied = limiter.check(0);
  EXPECT_FALSE(denied.decision.allowed());
  EXPECT_EQ(denied.decision.reason, "rate:rpm");
  EXPECT_EQ(denied.decision.rule, "rpm=60");
  EXPECT_EQ(denied.retry_after_seconds, 1);
  EXPECT_EQ(header(denied.headers, "x-ratelimit-limit-requests"), "60");
  EXPECT_EQ(header(denied.headers, "x-ratelimit-remaining-requests"), "0");
  EXPECT_EQ(header(denied.headers, "x-ratelimit-reset-requests"), "3s");
  EXPECT_EQ(header(denied.headers, "x-ratelimit-limit-tokens"), "<absent>");
  clock.advance(999ms);
  EXPECT_FALSE(limiter.check(0).decision.allowed());
  clock.advance(2ms);
  EXPECT_TRUE(limiter.check(0).decision.allowed());
}

TEST(RateLimiter, TokensPerMinuteAtomicWithRequests) {
  ManualClock clock;
  RateLimiter limiter(RateLimits{600, 6000, 0, 0}, clock.fn());  // 100 tokens/s
  EXPECT_TRUE(limiter.check(5000).decision.allowed());
  RateResult denied = limiter.check(2000);
  EXPECT_EQ(denied.decision.reason, "rate:tpm");
  EXPECT_EQ(denied.retry_after_seconds, 10);  // 1000 missing at 100/s
  EXPECT_EQ(header(denied.headers, "x-ratelimit-remaining-tokens"), "1000");
  // The denied request took no request slot.
  EXPECT_EQ(header(denied.headers, "x-ratelimit-remaining-requests"), "599");
  EXPECT_EQ(header(denied.headers, "x-ratelimit-reset-tokens"), "50s");
  limiter.adjust_tokens(-4000);  // the first request used 1000, not 5000
  EXPECT_TRUE(limiter.check(2000).decision.allowed());
}

TEST(RateLimiter, RequestLargerThanBurstNamesTheRule) {
  ManualClock clock;
  RateLimiter limiter(RateLimits{0, 1000, 0, 0}, clock.fn());
  RateResult denied = limiter.check(1001);
  EXPECT_EQ(denied.decision.reason, "rate:tpm");
  EXPECT_EQ(denied.decision.rule, "tpm:exceeds-burst");
  EXPECT_GE(denied.retry_after_seconds, 1);
}

TEST(RateLimiter, DebtFromUnderestimateDelaysNextRequest) {
  ManualClock clock;
  RateLimiter limiter(RateLimits{0, 600, 0, 0}, clock.fn());  // 10 tokens/s
  EXPECT_TRUE(limiter.check(600).decision.allowed());
  limiter.adjust_tokens(100);  // used 700: bucket at -100
  clock.advance(10s);
  EXPECT_FALSE(limiter.check(1).decision.allowed());
  clock.advance(200ms);
  EXPECT_TRUE(limiter.check(1).decision.allowed());
}

TEST(RateLimiter, DisabledLimitsAlwaysAllow) {
  RateLimiter limiter(RateLimits{});
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limiter.check(1'000'000).decision.allowed());
  EXPECT_TRUE(limiter.headers().to_list().empty());
}

TEST(RateLimiter, ResetDurationFormat) {
  EXPECT_EQ(format_reset_duration(0), "0s");
  EXPECT_EQ(format_reset_duration(0.25), "250ms");
  EXPECT_EQ(format_reset_duration(1), "1s");
  EXPECT_EQ(format_reset_duration(360), "6m0s");
  EXPECT_EQ(format_reset_duration(3723), "1h2m3s");
}

TEST(ConcurrencyLimiter, GrantQueueRejectInOrder) {
  ConcurrencyLimiter limiter(ConcurrencyLimits{2, 2});
  auto a = limiter.try_acquire({});
  auto b = limiter.try_acquire({});
  ASSERT_EQ(a.status, AcquireStatus::granted);
  ASSERT_EQ(b.status, AcquireStatus::granted);
  std::vector<int> order;
  std::vector<ConcurrencyPermit> handed;
  auto c = limiter.try_acquire([&](ConcurrencyPermit p) {
    order.push_back(3);
    handed.push_back(std::move(p));
  });
  auto d = limiter.try_acquire([&](ConcurrencyPermit p) {
    order.push_back(4);
    handed.push_back(std::move(p));
  });
  EXPECT_EQ(c.status, AcquireStatus::queued);
  EXPECT_EQ(d.status, AcquireStatus::queued);
  auto e = limiter.try_acquire({});
  EXPECT_EQ(e.status, AcquireStatus::rejected);
  EXPECT_EQ(e.decision.reason, "rate:concurrency");
  EXPECT_EQ(e.decision.rule, "max_concurrent=2,queue=2");
  EXPECT_EQ(limiter.queued(), 2);

  a.permit.reset();  // slot passes to the first waiter
  ASSERT_EQ(order, std::vector<int>({3}));
  EXPECT_EQ(limiter.in_use(), 2);
  EXPECT_EQ(limiter.queued(), 1);
  b.permit = ConcurrencyPermit();  // move-assign releases too
  ASSERT_EQ(order, std::vector<int>({3, 4}));
  handed.clear();
  EXPECT_EQ(limiter.in_use(), 0);
}

TEST(ConcurrencyLimiter, CancelledWaiterIsSkipped) {
  ConcurrencyLimiter limiter(ConcurrencyLimits{1, 5});
  auto a = limiter.try_acquire({});
  bool first_called = false;
  bool second_called = false;
  ConcurrencyPermit kept;
  auto q1 = limiter.try_acquire([&](ConcurrencyPermit) { first_called = true; });
  auto q2 = limiter.try_acquire([&](ConcurrencyPermit p) {
    second_called = true;
    kept = std::move(p);
  });
  EXPECT_TRUE(limiter.cancel(q1.ticket));
  EXPECT_FALSE(limiter.cancel(q1.ticket));
  a.permit.reset();
  EXPECT_FALSE(first_called);
  EXPECT_TRUE(second_called);
  EXPECT_FALSE(limiter.cancel(q2.ticket));  // already granted
  EXPECT_EQ(limiter.in_use(), 1);
  kept.reset();
  EXPECT_EQ(limiter.in_use(), 0);
}

TEST(ConcurrencyLimiter, ZeroQueueRejectsImmediately) {
  ConcurrencyLimiter limiter(ConcurrencyLimits{1, 0});
  auto a = limiter.try_acquire({});
  EXPECT_EQ(limiter.try_acquire([](ConcurrencyPermit) {}).status, AcquireStatus::rejected);
}

TEST(ConcurrencyLimiter, PermitOutlivesLimiter) {
  ConcurrencyPermit permit;
  {
    ConcurrencyLimiter limiter(ConcurrencyLimits{1, 1});
    permit = std::move(limiter.try_acquire({}).permit);
  }
  EXPECT_TRUE(permit.valid());
  permit.reset();  // no use-after-free (run under ASan in the sanitizer preset)
  EXPECT_FALSE(permit.valid());
}

TEST(ConcurrencyLimiter, ThreadsNeverExceedMaxConcurrent) {
  ConcurrencyLimiter limiter(ConcurrencyLimits{3, 1000});
  std::atomic<int> active{0};
  std::atomic<int> peak{0};
  std::atomic<int> completed{0};
  auto work = [&](ConcurrencyPermit permit) {
    const int now = ++active;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    --active;
    ++completed;
    permit.reset();
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto r = limiter.try_acquire(work);
        if (r.status == AcquireStatus::granted) work(std::move(r.permit));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(completed.load(), 6 * 200);
  EXPECT_LE(peak.load(), 3);
  EXPECT_EQ(limiter.in_use(), 0);
  EXPECT_EQ(limiter.queued(), 0);
}

}  // namespace
}  // namespace sallyport::governance

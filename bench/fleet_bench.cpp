// State backend round trips: admit (rate + budget reserve) + settle per request, the local
// backend (BudgetLedger with its journal + RateLimiter, in this process) against the Redis
// backend (RedisClient pool over loopback + Lua scripts), in the same run.
//   BM_Local/inflight:1            closed loop, one request at a time
//   BM_Redis/inflight:N            N admissions outstanding at once (pipelined on the pool)
// Counters: round_trips_per_second (admit+settle pairs), admit_p50_us / admit_p99_us (the
// latency the gateway adds before forwarding; settles are fire and forget, as in the gateway).
// The Redis benchmarks need FLEET_BENCH_REDIS_URL (bench/fleet_bench.sh starts a redis-server
// on a free loopback port and sets it); without it they are skipped.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "governance/redis_state_backend.hpp"
#include "governance/state_backend.hpp"
#include "router/redis_client.hpp"

namespace {

namespace gov = sallyport::governance;
using Clock = std::chrono::steady_clock;

struct Latencies {
  std::vector<double> us;
  void report(benchmark::State& state, std::int64_t pairs, double seconds) {
    std::sort(us.begin(), us.end());
    const auto at = [&](double q) { return us.empty() ? 0.0 : us[static_cast<std::size_t>(q * (us.size() - 1))]; };
    state.counters["admit_p50_us"] = at(0.50);
    state.counters["admit_p99_us"] = at(0.99);
    state.counters["round_trips_per_second"] = seconds > 0 ? static_cast<double>(pairs) / seconds : 0;
  }
};

// Waits for `n` completions (the backends answer on their own threads).
class Countdown {
 public:
  void add() {
    std::lock_guard lock(mutex_);
    ++outstanding_;
  }
  void done() {
    std::lock_guard lock(mutex_);
    --outstanding_;
    cv_.notify_all();
  }
  void wait_below(int limit) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return outstanding_ < limit; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int outstanding_ = 0;
};

void run_backend(benchmark::State& state, gov::StateBackend& backend) {
  const int inflight = static_cast<int>(state.range(0));
  Latencies lat;
  std::mutex lat_mutex;
  Countdown pending;
  std::int64_t pairs = 0;
  std::atomic<std::int64_t> denied{0};
  const auto start = Clock::now();
  for (auto _ : state) {
    pending.wait_below(inflight);
    pending.add();
    const auto t0 = Clock::now();
    backend.admit({20, 20, gov::ReserveRequest{10, 10}}, [&, t0](gov::AdmitResult r) {
      const double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
      if (r.ticket) {
        backend.settle(*r.ticket, 15);
      } else {
        denied.fetch_add(1);
      }
      {
        std::lock_guard lock(lat_mutex);
        lat.us.push_back(us);
      }
      pending.done();
    });
    ++pairs;
  }
  pending.wait_below(1);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  lat.report(state, pairs, seconds);
  state.counters["denied"] = static_cast<double>(denied.load());
}

std::filesystem::path bench_dir() {
  static const auto dir = [] {
    auto p = std::filesystem::temp_directory_path() / ("sallyport-fleet-bench-" + std::to_string(::getpid()));
    std::filesystem::create_directories(p);
    return p;
  }();
  return dir;
}

void BM_Local(benchmark::State& state) {
  gov::BudgetLedgerOptions options;
  options.state_dir = bench_dir().string();  // the shipped default: journal, group fsync
  options.sandbox = "bench-" + std::to_string(state.range(0));
  auto opened = gov::BudgetLedger::open(options);
  if (!opened.ledger) {
    state.SkipWithError(opened.error.c_str());
    return;
  }
  gov::RateLimiter limiter({0, 0, 0, 0});  // limits off: measure the bookkeeping, not denials
  gov::LocalStateBackend backend(opened.ledger.get(), &limiter);
  run_backend(state, backend);
}

void BM_Redis(benchmark::State& state) {
  const char* url = std::getenv("FLEET_BENCH_REDIS_URL");
  if (!url) {
    state.SkipWithError("FLEET_BENCH_REDIS_URL not set (run bench/fleet_bench.sh)");
    return;
  }
  auto endpoint = sallyport::router::parse_redis_url(url);
  if (!endpoint.endpoint) {
    state.SkipWithError(endpoint.error.c_str());
    return;
  }
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  sallyport::router::RedisClientOptions options;
  options.endpoint = *endpoint.endpoint;
  options.pool_size = 2;
  options.timeout = std::chrono::milliseconds(200);
  sallyport::router::RedisClient client(io.get_executor(), options);
  client.start();
  std::thread io_thread([&] { io.run(); });
  for (int i = 0; i < 300 && !client.connected(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (!client.connected()) {
    state.SkipWithError("cannot connect to redis");
  } else {
    gov::RedisBackendOptions backend_options;
    backend_options.keys = {"sallyport-bench", "tenant-" + std::to_string(::getpid()), "sb"};
    backend_options.tenant_daily_tokens = 1LL << 50;  // caps checked, never reached
    backend_options.sandbox_daily_tokens = 1LL << 50;
    backend_options.tenant_rpm = 1'000'000'000;
    backend_options.tenant_tpm = 1LL << 50;
    gov::RedisStateBackend backend(client, backend_options);
    run_backend(state, backend);
    // Let the last fire-and-forget settles land before the pool closes.
    for (int i = 0; i < 100 && backend.health().settles_pending > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    state.counters["errors"] = static_cast<double>(backend.health().errors);
  }
  client.stop();
  work.reset();
  io.stop();
  io_thread.join();
}

BENCHMARK(BM_Local)->ArgName("inflight")->Arg(1)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_Redis)->ArgName("inflight")->Arg(1)->Arg(8)->Arg(32)->UseRealTime()->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();

// Reserve + settle round trips per second on one shared BudgetLedger.
//   BM_ReserveSettle/<durability>/threads:N
//   durability 0 = in memory (no state_dir), 1 = journal write() only (survives kill -9),
//   2 = group_fsync (write() + background group-commit fdatasync; the shipped default),
//   3 = fsync_each_record (fdatasync under the lock before every call returns).
// The journal lives in a fresh directory under $TMPDIR (default /tmp) and is removed at exit;
// note /tmp may be tmpfs, where fsync is nearly free: set TMPDIR to a disk path to measure it.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "governance/budget_ledger.hpp"

namespace {

using sallyport::governance::BudgetLedger;
using sallyport::governance::BudgetLedgerOptions;
using sallyport::governance::Durability;

std::filesystem::path bench_dir() {
  static const std::filesystem::path dir = [] {
    auto path = std::filesystem::temp_directory_path() /
                ("sallyport-budget-bench-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
    return path;
  }();
  return dir;
}

BudgetLedger& ledger_for(int mode) {
  static std::mutex mutex;
  static std::unique_ptr<BudgetLedger> ledgers[4];
  std::lock_guard lock(mutex);
  if (!ledgers[mode]) {
    BudgetLedgerOptions options;
    options.sandbox = "bench-" + std::to_string(mode);
    if (mode > 0) options.state_dir = bench_dir().string();
    constexpr Durability kModes[] = {Durability::write_only, Durability::write_only,
                                     Durability::group_fsync, Durability::fsync_each_record};
    options.durability = kModes[mode];
    options.limits.daily_tokens = 0;  // unlimited: measure the bookkeeping, not denials
    auto result = BudgetLedger::open(options);
    if (!result.ledger) std::abort();
    ledgers[mode] = std::move(result.ledger);
  }
  return *ledgers[mode];
}

void BM_ReserveSettle(benchmark::State& state) {
  BudgetLedger& ledger = ledger_for(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto reserved = ledger.reserve({120, 256});
    if (!reserved.reservation) {
      state.SkipWithError("reservation denied");
      break;
    }
    ledger.settle(reserved.reservation->id, 200);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_ReserveSettle)->Arg(0)->Arg(1)->Arg(2)->Arg(3)->ThreadRange(1, 4)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::error_code ignored;
  std::filesystem::remove_all(bench_dir(), ignored);
  return 0;
}

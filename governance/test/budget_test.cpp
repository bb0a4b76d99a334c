#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "governance/budget_ledger.hpp"

namespace sallyport::governance {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::system_clock;

// A settable wall clock shared with the ledger.
struct FakeClock {
  std::shared_ptr<std::atomic<std::int64_t>> seconds =
      std::make_shared<std::atomic<std::int64_t>>(1'795'000'000);  // 2026-11-18 ~UTC noon-ish
  WallClock fn() const {
    auto s = seconds;
    return [s] { return system_clock::time_point(std::chrono::seconds(s->load())); };
  }
  void advance(std::chrono::seconds by) { *seconds += by.count(); }
  void to_next_midnight() {
    const std::int64_t now = seconds->load();
    *seconds = (now / 86400 + 1) * 86400 + 1;
  }
};

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("sallyport-budget-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  [[nodiscard]] std::string str() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

std::unique_ptr<BudgetLedger> open_ledger(const std::string& dir, BudgetLimits limits,
                                          const FakeClock& clock) {
  BudgetLedgerOptions options;
  options.state_dir = dir;
  options.sandbox = "sbx-1";
  options.limits = limits;
  options.clock = clock.fn();
  auto result = BudgetLedger::open(options);
  EXPECT_TRUE(result.ledger) << result.error;
  return std::move(result.ledger);
}

BudgetLimits limits(std::int64_t per_request, std::int64_t daily,
                    OverMaxTokens mode = OverMaxTokens::reject) {
  BudgetLimits l;
  l.per_request_tokens = per_request;
  l.daily_tokens = daily;
  l.over_max_tokens = mode;
  return l;
}

TEST(BudgetLedger, ReserveSettleRelease) {
  FakeClock clock;
  auto ledger = open_ledger("", limits(0, 1000), clock);
  auto r = ledger->reserve({100, 200});
  ASSERT_TRUE(r.decision.allowed());
  ASSERT_TRUE(r.reservation);
  EXPECT_EQ(r.reservation->reserved_tokens, 300);
  EXPECT_FALSE(r.reservation->max_output_tokens);  // unchanged request
  EXPECT_EQ(ledger->remaining_today(), 700);
  EXPECT_EQ(ledger->settle(r.reservation->id, 120), SettleOutcome::settled);
  EXPECT_EQ(ledger->remaining_today(), 880);
  EXPECT_EQ(ledger->settle(r.reservation->id, 120), SettleOutcome::unknown_reservation);

  auto r2 = ledger->reserve({50, 50});
  ASSERT_TRUE(r2.reservation);
  EXPECT_EQ(ledger->snapshot().reserved_in_flight, 100);
  EXPECT_EQ(ledger->release(r2.reservation->id), SettleOutcome::settled);
  const BudgetSnapshot snap = ledger->snapshot();
  EXPECT_EQ(snap.spent_today, 120);
  EXPECT_EQ(snap.reserved_in_flight, 0);
  EXPECT_EQ(snap.in_flight_requests, 0);
  EXPECT_EQ(snap.remaining_today, 880);
}

TEST(BudgetLedger, DailyCapDeniesWithReason) {
  FakeClock clock;
  auto ledger = open_ledger("", limits(0, 1000), clock);
  auto a = ledger->reserve({400, 400});
  ASSERT_TRUE(a.reservation);
  auto b = ledger->reserve({100, 150});  // 800 + 250 > 1000 (in-flight counts)
  EXPECT_FALSE(b.decision.allowed());
  EXPECT_EQ(b.decision.reason, "budget:daily");
  EXPECT_EQ(b.decision.rule, "daily_tokens=1000");
  EXPECT_FALSE(b.reservation);
  ledger->settle(a.reservation->id, 500);
  EXPECT_TRUE(ledger->reserve({100, 150}).decision.allowed());  // 500 + 250 ≤ 1000
}

TEST(BudgetLedger, SettleAboveReservationChargesActual) {
  FakeClock clock;
  auto ledger = open_ledger("", limits(0, 1000), clock);
  auto a = ledger->reserve({10, 10});
  ledger->settle(a.reservation->id, 1500);
  EXPECT_EQ(ledger->snapshot().spent_today, 1500);
  EXPECT_EQ(ledger->remaining_today(), 0);
  EXPECT_EQ(ledger->reserve({1, 0}).decision.reason, "budget:daily");
}

TEST(BudgetLedger, PerRequestRejectVersusClamp) {
  FakeClock clock;
  struct Case {
    OverMaxTokens mode;
    std::int64_t prompt;
    std::optional<std::int64_t> max_out;
    bool allowed;
    std::optional<std::int64_t> rewritten;  // Reservation::max_output_tokens
    std::int64_t reserved;
  };
  const Case cases[] = {
      {OverMaxTokens::reject, 100, 900, true, std::nullopt, 1000},
      {OverMaxTokens::reject, 100, 901, false, std::nullopt, 0},
      {OverMaxTokens::clamp, 100, 5000, true, 900, 1000},
      {OverMaxTokens::clamp, 100, 10, true, std::nullopt, 110},
      {OverMaxTokens::reject, 100, std::nullopt, true, 900, 1000},  // filled in
      {OverMaxTokens::clamp, 1000, 1, false, std::nullopt, 0},       // prompt alone at cap
      {OverMaxTokens::reject, 2000, 0, false, std::nullopt, 0},
  };
  for (const Case& c : cases) {
    auto ledger = open_ledger("", limits(1000, 0, c.mode), clock);
    auto r = ledger->reserve({c.prompt, c.max_out});
    EXPECT_EQ(r.decision.allowed(), c.allowed) << c.prompt << "+" << c.max_out.value_or(-1);
    if (!c.allowed) {
      EXPECT_EQ(r.decision.reason, "budget:request");
      EXPECT_EQ(r.decision.rule, "per_request_tokens=1000");
      continue;
    }
    ASSERT_TRUE(r.reservation);
    EXPECT_EQ(r.reservation->max_output_tokens, c.rewritten);
    EXPECT_EQ(r.reservation->reserved_tokens, c.reserved);
  }
}

TEST(BudgetLedger, ClampModeShrinksToDailyRoom) {
  FakeClock clock;
  auto ledger = open_ledger("", limits(0, 1000, OverMaxTokens::clamp), clock);
  auto a = ledger->reserve({100, 700});
  ASSERT_TRUE(a.reservation);
  auto b = ledger->reserve({50, 500});  // room 200 → output 150
  ASSERT_TRUE(b.reservation);
  EXPECT_EQ(b.reservation->max_output_tokens, 150);
  EXPECT_EQ(ledger->remaining_today(), 0);
  EXPECT_EQ(ledger->reserve({1, 1}).decision.reason, "budget:daily");
}

TEST(BudgetLedger, UtcDayRolloverWithInjectedClock) {
  FakeClock clock;
  auto ledger = open_ledger("", limits(0, 1000), clock);
  auto a = ledger->reserve({400, 400});
  auto in_flight = ledger->reserve({50, 50});
  ledger->settle(a.reservation->id, 800);
  ledger->raise(1200);
  const std::string day1 = ledger->snapshot().day;
  EXPECT_EQ(ledger->snapshot().daily_cap, 1200);
  clock.to_next_midnight();
  BudgetSnapshot snap = ledger->snapshot();
  EXPECT_NE(snap.day, day1);
  EXPECT_EQ(snap.spent_today, 0);
  EXPECT_EQ(snap.daily_cap, 1000);             // raise() was for yesterday only
  EXPECT_EQ(snap.reserved_in_flight, 100);    // in flight across midnight stays reserved
  ledger->settle(in_flight.reservation->id, 60);  // charged to the day it settles in
  EXPECT_EQ(ledger->snapshot().spent_today, 60);
}

TEST(BudgetLedger, DayStringIsUtc) {
  EXPECT_EQ(utc_day_string(0), "1970-01-01");
  EXPECT_EQ(utc_day_string(20781), "2026-11-24");
}

TEST(BudgetLedger, ResetAndRaise) {
  FakeClock clock;
  auto ledger = open_ledger("", limits(0, 100), clock);
  auto a = ledger->reserve({50, 50});
  ledger->settle(a.reservation->id, 100);
  EXPECT_EQ(ledger->reserve({1, 1}).decision.reason, "budget:daily");
  ledger->raise(150);
  EXPECT_TRUE(ledger->reserve({1, 1}).decision.allowed());
  ledger->reset();
  EXPECT_EQ(ledger->snapshot().spent_today, 0);
}

TEST(BudgetLedger, PersistsAcrossReopenInEveryDurabilityMode) {
  for (Durability durability :
       {Durability::group_fsync, Durability::write_only, Durability::fsync_each_record}) {
    TempDir dir;
    FakeClock clock;
    {
      BudgetLedgerOptions options;
      options.state_dir = dir.str();
      options.sandbox = "sbx-1";
      options.limits = limits(0, 10000);
      options.clock = clock.fn();
      options.durability = durability;
      auto ledger = std::move(BudgetLedger::open(options).ledger);
      ASSERT_TRUE(ledger);
      auto a = ledger->reserve({100, 100});
      ledger->settle(a.reservation->id, 150);
      auto b = ledger->reserve({10, 10});
      ledger->release(b.reservation->id);
      ledger->raise(20000);
      ledger->close();
      EXPECT_EQ(ledger->snapshot().journal_errors, 0u);
    }
    auto reopened = open_ledger(dir.str(), limits(0, 10000), clock);
    const BudgetSnapshot snap = reopened->snapshot();
    EXPECT_EQ(snap.spent_today, 150);
    EXPECT_EQ(snap.daily_cap, 20000);
    EXPECT_EQ(snap.reserved_in_flight, 0);
    EXPECT_EQ(snap.charged_at_recovery, 0);
    EXPECT_TRUE(fs::exists(dir.str() + "/budget-sbx-1.journal"));
  }
}

TEST(BudgetLedger, CrashWithInFlightReservationChargesItOnce) {
  TempDir dir;
  FakeClock clock;
  {
    auto ledger = open_ledger(dir.str(), limits(0, 10000), clock);
    auto done = ledger->reserve({100, 100});
    ledger->settle(done.reservation->id, 50);
    auto lost = ledger->reserve({300, 700});  // never settled: the process "dies"
    ASSERT_TRUE(lost.reservation);
    // No close(): the destructor only closes the fd, exactly what kill -9 leaves behind.
  }
  // Simulate a torn final record too.
  { std::ofstream(dir.str() + "/budget-sbx-1.journal", std::ios::app) << "S 2026-11-18 9"; }
  for (int reopen = 0; reopen < 3; ++reopen) {  // charged once, not once per restart
    auto ledger = open_ledger(dir.str(), limits(0, 10000), clock);
    EXPECT_EQ(ledger->snapshot().spent_today, 1050) << "reopen " << reopen;
    EXPECT_EQ(ledger->snapshot().reserved_in_flight, 0);
  }
}

// A real kill -9 of a child process between reserve and settle.
TEST(BudgetLedger, SurvivesSigkillOfTheWriter) {
  TempDir dir;
  FakeClock clock;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    BudgetLedgerOptions options;
    options.state_dir = dir.str();
    options.sandbox = "sbx-1";
    options.limits = limits(0, 10000);
    options.clock = clock.fn();
    auto result = BudgetLedger::open(options);
    if (!result.ledger) ::_exit(2);
    for (int i = 0; i < 5; ++i) {
      auto r = result.ledger->reserve({10, 10});
      result.ledger->settle(r.reservation->id, 20);
    }
    result.ledger->reserve({40, 60});
    ::raise(SIGKILL);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  auto ledger = open_ledger(dir.str(), limits(0, 10000), clock);
  EXPECT_EQ(ledger->snapshot().spent_today, 5 * 20 + 100);
  EXPECT_EQ(ledger->snapshot().charged_at_recovery, 100);
}

TEST(BudgetLedger, OldDaysAreDroppedOnOpen) {
  TempDir dir;
  FakeClock clock;
  {
    auto ledger = open_ledger(dir.str(), limits(0, 1000), clock);
    auto a = ledger->reserve({100, 100});
    ledger->settle(a.reservation->id, 200);
    ledger->reserve({5, 5});  // in flight at "crash", yesterday
  }
  clock.advance(hours(24));
  auto ledger = open_ledger(dir.str(), limits(0, 1000), clock);
  EXPECT_EQ(ledger->snapshot().spent_today, 0);
  EXPECT_EQ(ledger->remaining_today(), 1000);
}

TEST(BudgetLedger, CorruptLinesAreSkippedAndCounted) {
  TempDir dir;
  FakeClock clock;
  { open_ledger(dir.str(), limits(0, 1000), clock); }
  const std::string day = open_ledger("", limits(0, 1000), clock)->snapshot().day;
  {
    std::ofstream out(dir.str() + "/budget-sbx-1.journal", std::ios::app);
    out << "garbage line\nS " << day << " 77 40\nR " << day << " x y\n";
  }
  auto ledger = open_ledger(dir.str(), limits(0, 1000), clock);
  EXPECT_EQ(ledger->snapshot().spent_today, 40);
  EXPECT_EQ(ledger->snapshot().corrupt_journal_lines, 2u);
}

TEST(BudgetLedger, UnwritableStateDirIsAnOpenError) {
  BudgetLedgerOptions options;
  options.state_dir = "/nonexistent/sallyport-state";
  auto result = BudgetLedger::open(options);
  EXPECT_FALSE(result.ledger);
  EXPECT_NE(result.error.find("/nonexistent/sallyport-state/budget-default.journal"),
            std::string::npos);
}

TEST(BudgetLedger, SandboxNameCannotEscapeStateDir) {
  TempDir dir;
  BudgetLedgerOptions options;
  options.state_dir = dir.str();
  options.sandbox = "../../etc/passwd";
  auto result = BudgetLedger::open(options);
  ASSERT_TRUE(result.ledger) << result.error;
  EXPECT_TRUE(fs::exists(dir.str() + "/budget-_.._.._etc_passwd.journal"));
}

TEST(BudgetLedger, ConcurrentReservesNeverExceedTheCap) {
  TempDir dir;
  FakeClock clock;
  BudgetLedgerOptions options;
  options.state_dir = dir.str();
  options.sandbox = "sbx-1";
  options.limits = limits(0, 10'000);
  options.clock = clock.fn();
  options.durability = Durability::write_only;
  auto ledger = std::move(BudgetLedger::open(options).ledger);
  ASSERT_TRUE(ledger);
  std::atomic<std::int64_t> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto r = ledger->reserve({7, 10});  // 17 tokens each
        if (!r.reservation) continue;
        granted += 17;
        const BudgetSnapshot now = ledger->snapshot();
        EXPECT_LE(now.spent_today + now.reserved_in_flight, 10'000);
        if (i % 3 == 0) {
          ledger->release(r.reservation->id);
          granted -= 17;
        } else {
          ledger->settle(r.reservation->id, 17);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const BudgetSnapshot snap = ledger->snapshot();
  EXPECT_LE(snap.spent_today, 10'000);
  EXPECT_EQ(snap.spent_today, granted.load());
  EXPECT_GT(snap.spent_today, 10'000 - 17 * 8);  // the cap was actually reached
  EXPECT_EQ(snap.reserved_in_flight, 0);
  ledger.reset();
  auto reopened = open_ledger(dir.str(), limits(0, 10'000), clock);
  EXPECT_EQ(reopened->snapshot().spent_today, snap.spent_today);
}

TEST(BudgetLedger, JournalIsCompactedWithinABusyDay) {
  TempDir dir;
  FakeClock clock;
  BudgetLedgerOptions options;
  options.state_dir = dir.str();
  options.sandbox = "sbx-1";
  options.clock = clock.fn();
  options.durability = Durability::write_only;
  auto ledger = std::move(BudgetLedger::open(options).ledger);
  ASSERT_TRUE(ledger);
  auto held = ledger->reserve({3, 4});  // in flight across every compaction
  for (int i = 0; i < 60'000; ++i) {  // 120 000 records
    auto r = ledger->reserve({1, 1});
    ledger->settle(r.reservation->id, 2);
  }
  EXPECT_LT(fs::file_size(dir.str() + "/budget-sbx-1.journal"), 40u * 50'000u);
  ledger.reset();  // "crash" with `held` unsettled
  auto reopened = open_ledger(dir.str(), limits(0, 0), clock);
  EXPECT_EQ(reopened->snapshot().spent_today, 120'000 + 7);
  EXPECT_EQ(reopened->snapshot().charged_at_recovery, 7);
}

TEST(BudgetLedger, ParseOverMaxTokens) {
  EXPECT_EQ(parse_over_max_tokens("reject"), OverMaxTokens::reject);
  EXPECT_EQ(parse_over_max_tokens("clamp"), OverMaxTokens::clamp);
  EXPECT_FALSE(parse_over_max_tokens("Clamp"));
}

}  // namespace
}  // namespace sallyport::governance

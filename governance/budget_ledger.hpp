#pragma once
// Token budget of one sandbox: a per-request cap and a daily (UTC) cap, in tokens.
//
// Flow per gateway request:
//   reserve({prompt_estimate, max_output_tokens}) BEFORE forwarding
//     → deny Decision (reason "budget:request" | "budget:daily" | "budget:unavailable"), or a
//       Reservation; if Reservation::max_output_tokens is set, write it into the request
//       (set_max_output_tokens) — the ledger clamped or filled in the output limit.
//   settle(id, actual_total_tokens) when usage is known (also for failed-but-billed answers),
//   release(id) when nothing reached the provider / nothing was billed.
//
// Caps (0 = unlimited):
//   per request: prompt_estimate + max output ≤ per_request_tokens. Over it: "reject" denies
//     with budget:request; "clamp" lowers max output to fit. A prompt that alone exceeds the cap
//     is always denied. A request without a max output limit gets one (the room left).
//   daily: spent_today + reserved_in_flight + this reservation ≤ daily cap. Over it: reject
//     denies with budget:daily; clamp lowers max output to the room left (min 1 token).
//   Settling charges the actual amount even when it exceeds the reservation (never under-count).
//
// Persistence (state_dir non-empty): append-only journal `budget-<sandbox>.journal`, one text
// line per record (reserve/settle/release/reset/raise, each tagged with its UTC day), written
// with one write() before the call returns and fdatasync'd as Durability says.
// On open the journal is replayed and compacted (rewritten to tmp, fsync, rename, fsync dir);
// it is compacted again at every UTC day rollover and after every 100 000 appended records.
// Crash safety (kill -9, power loss with fsync): a reservation that was never settled nor
// released when the process died is CHARGED AT ITS RESERVED AMOUNT on the next open — the
// provider may have served it, so the safe side is to count it, once (the charge is made part
// of the compacted journal, so it is never counted twice). A torn last line is ignored.
// Unsettled reservations from a previous day are dropped with that day.
//
// Day rollover follows the injected clock (UTC days). Reservations in flight at midnight stay
// in flight and are charged to the day in which they settle. raise() changes today's cap only;
// the configured cap applies again from the next day. reset() zeroes today's spend.
//
// Thread-safe (one mutex; journal I/O happens under it). Never throws on the data path:
// journal write failures are logged, counted in BudgetSnapshot::journal_errors and make
// reserve() deny with "budget:unavailable" (fail closed) until a write succeeds again.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "common/decision.hpp"

namespace sallyport::governance {

using WallClock = std::function<std::chrono::system_clock::time_point()>;

enum class OverMaxTokens : std::uint8_t { reject, clamp };
// write_only: each record is write()n before the call returns (survives kill -9, not power loss).
// group_fsync (default): write() as above, plus a background thread fdatasyncs whenever records
//   are pending; records written during one fdatasync are covered by the next (group commit).
//   A power loss can lose the records of the last few milliseconds; the data path never waits
//   for the disk.
// fsync_each_record: fdatasync before every call returns, under the ledger lock. Strongest, but
//   serialises every request on the disk's sync latency (~70 round trips/s measured on the
//   shared dev VM's ext4): only for low request rates.
enum class Durability : std::uint8_t { group_fsync, write_only, fsync_each_record };

// Config: budgets {per_request_tokens, daily_tokens, over_max_tokens}.
struct BudgetLimits {
  std::int64_t per_request_tokens = 0;  // budgets.per_request_tokens; 0 = no cap
  std::int64_t daily_tokens = 0;        // budgets.daily_tokens; 0 = no cap
  OverMaxTokens over_max_tokens = OverMaxTokens::reject;  // budgets.over_max_tokens
  // Output reserved for a request without a max-tokens field when no cap bounds it.
  std::int64_t default_max_output_tokens = 4096;
};

std::optional<OverMaxTokens> parse_over_max_tokens(std::string_view text);  // "reject"|"clamp"

struct BudgetLedgerOptions {
  std::string state_dir;  // config state_dir; empty = in memory only (no persistence)
  std::string sandbox = "default";  // identity.sandbox; names the journal file
  BudgetLimits limits;
  WallClock clock;  // default: std::chrono::system_clock::now
  Durability durability = Durability::group_fsync;
};

struct ReserveRequest {
  std::int64_t prompt_estimate = 0;               // estimate_prompt_tokens()
  std::optional<std::int64_t> max_output_tokens;  // from the request; 0 for embeddings
};

struct Reservation {
  std::uint64_t id = 0;
  std::int64_t reserved_tokens = 0;  // prompt_estimate + granted output
  // Set when the granted output differs from the request (clamped, or filled in because the
  // request had none): the gateway must write this limit into the request before forwarding.
  std::optional<std::int64_t> max_output_tokens;
};

struct ReserveResult {
  Decision decision;  // allow("budget:ok") or deny("budget:request"|"budget:daily"|...)
  std::optional<Reservation> reservation;  // set iff decision.allowed()
};

enum class SettleOutcome : std::uint8_t { settled, unknown_reservation };

// Metrics / admin view (sallyport_budget_remaining_tokens{window}, GET /admin/budget).
struct BudgetSnapshot {
  std::string day;                  // "YYYY-MM-DD" (UTC)
  std::int64_t daily_cap = 0;       // today's cap (after raise); 0 = unlimited
  std::int64_t per_request_cap = 0;
  std::int64_t spent_today = 0;
  std::int64_t reserved_in_flight = 0;
  std::int64_t in_flight_requests = 0;
  std::int64_t remaining_today = 0;  // max(0, cap - spent - reserved); INT64_MAX when unlimited
  std::uint64_t journal_errors = 0;
  std::uint64_t corrupt_journal_lines = 0;  // skipped at the last open
  std::int64_t charged_at_recovery = 0;     // tokens charged for unsettled reservations at open
};

class BudgetLedger;

struct BudgetLedgerOpenResult {
  std::unique_ptr<BudgetLedger> ledger;
  std::string error;  // set when ledger is null: path and cause
};

class BudgetLedger {
 public:
  // Replays and compacts the journal. Fails on an unreadable/unwritable state_dir.
  static BudgetLedgerOpenResult open(BudgetLedgerOptions options);
  ~BudgetLedger();
  BudgetLedger(const BudgetLedger&) = delete;
  BudgetLedger& operator=(const BudgetLedger&) = delete;

  ReserveResult reserve(const ReserveRequest& request);
  SettleOutcome settle(std::uint64_t reservation_id, std::int64_t actual_tokens);
  SettleOutcome release(std::uint64_t reservation_id);

  // Admin (/admin/budget POST). raise() sets today's daily cap (0 = unlimited today).
  void reset();
  void raise(std::int64_t new_daily_cap);

  [[nodiscard]] BudgetSnapshot snapshot();
  [[nodiscard]] std::int64_t remaining_today();
  [[nodiscard]] const BudgetLimits& limits() const noexcept { return options_.limits; }

  // Syncs pending records and closes the journal; later operations work in memory and count
  // journal errors. Also done by the destructor.
  void close();

 private:
  explicit BudgetLedger(BudgetLedgerOptions options);

  std::int64_t today_locked();
  void replay_locked(const std::string& journal_text);
  void roll_day_locked();
  bool append_locked(const std::string& line);
  bool compact_locked();
  std::int64_t remaining_locked() const;
  ReserveResult decide_locked(const ReserveRequest& request);
  void flush_loop();
  void stop_flusher();

  BudgetLedgerOptions options_;
  std::string journal_path_;
  std::mutex mutex_;
  int fd_ = -1;
  std::int64_t day_ = 0;  // days since 1970-01-01 (UTC)
  std::int64_t spent_ = 0;
  std::int64_t reserved_ = 0;
  std::optional<std::int64_t> raised_cap_;
  std::unordered_map<std::uint64_t, std::int64_t> in_flight_;  // id → reserved tokens
  std::uint64_t next_id_ = 1;
  std::uint64_t appended_since_compaction_ = 0;
  std::uint64_t journal_errors_ = 0;
  std::uint64_t corrupt_lines_ = 0;
  std::int64_t charged_at_recovery_ = 0;
  // Group commit (Durability::group_fsync).
  std::condition_variable flush_wanted_;
  bool dirty_ = false;
  bool stopping_ = false;
  std::thread flusher_;
};

// "YYYY-MM-DD" for a day number (days since the Unix epoch, UTC).
std::string utc_day_string(std::int64_t day);

}  // namespace sallyport::governance

#pragma once
// Where admission state lives: budget reservations (daily tokens) and rate limits (rpm/tpm).
// shared/DESIGN.md "Config shape": state_backend {kind: "local"} | {kind: "redis", …}.
//
//   local (default): LocalStateBackend wraps this process's BudgetLedger + RateLimiter — the
//     state of one sidecar, persisted by the ledger's journal.
//   redis: RedisStateBackend (governance/redis_state_backend.hpp) keeps tenant-wide and
//     sandbox-wide daily budgets and tenant rpm/tpm buckets in Redis, shared by every replica.
//     The gateway applies it ON TOP of the local objects, so the local limits stay the floor
//     when Redis is unreachable and on_unavailable is fail_open.
//
// Contract of every implementation:
//   admit(request, done): takes one request + request.rate_tokens from the rate buckets and
//     reserves request.reserve_tokens of every daily budget, atomically (all or nothing).
//     `done` runs exactly once — inline (local) or on another thread (redis) — and never later
//     than the backend's configured deadline. A deny names the reason ("rate:rpm", "rate:tpm",
//     "budget:daily", or "budget:unavailable" when the backend cannot answer and fails closed).
//   settle(ticket, actual): charges the actual tokens (even above the reservation), frees the
//     reservation and corrects the tpm bucket by (actual - rate_tokens). Fire and forget.
//   release(ticket): frees the reservation and refunds the tpm tokens; nothing is charged.
//   A ticket is settled or released at most once (the caller's duty).
// Implementations are thread-safe.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/decision.hpp"
#include "governance/budget_ledger.hpp"
#include "governance/rate_limiter.hpp"

namespace sallyport::governance {

struct AdmitRequest {
  std::int64_t rate_tokens = 0;     // counted against tpm (prompt estimate + max output)
  std::int64_t reserve_tokens = 0;  // reserved from the daily budgets
  // Local backend only: the ledger decides the reservation (per-request cap, clamp, filling in
  // a missing max output); reserve_tokens is then ignored.
  std::optional<ReserveRequest> ledger_request;
};

// What must be handed back to settle()/release(). Copyable, small.
struct AdmitTicket {
  std::string id;                      // unique across the fleet (process nonce + counter)
  std::int64_t reserved_tokens = 0;    // what the daily budgets hold for this request
  std::int64_t rate_tokens = 0;        // what the tpm bucket was charged
  std::int64_t reserve_day = 0;        // UTC day number the reservation was made on
  bool shared = true;                  // false: admitted without the shared store (fail_open)
  std::optional<Reservation> ledger;   // local backend: the ledger's reservation
};

struct AdmitResult {
  Decision decision;                   // allow("state:ok") or deny(reason, rule, detail)
  std::optional<AdmitTicket> ticket;   // set iff decision.allowed()
  std::int64_t retry_after_seconds = 0;  // on rate denies (≥ 1) and unavailability (1)
  bool backend_unavailable = false;    // the store did not answer in time (either policy)
};

enum class OnUnavailable : std::uint8_t { fail_closed, fail_open };
std::optional<OnUnavailable> parse_on_unavailable(std::string_view text);

// For /readyz, /admin/state_backend and the sallyport_state_backend_* metrics.
struct StateBackendHealth {
  std::string kind;            // "local" | "redis"
  bool up = true;              // the store answered its last call / has a live connection
  std::uint64_t errors = 0;    // calls that failed (timeout, connection, script error)
  std::uint64_t admitted_without_store = 0;  // fail_open admissions while it was down
  std::uint64_t settles_pending = 0;         // settles queued for retry after an outage
  std::string detail;          // last error, human readable, no secrets
};

class StateBackend {
 public:
  using AdmitDone = std::function<void(AdmitResult)>;
  virtual ~StateBackend() = default;

  virtual void admit(const AdmitRequest& request, AdmitDone done) = 0;
  virtual void settle(const AdmitTicket& ticket, std::int64_t actual_tokens) = 0;
  virtual void release(const AdmitTicket& ticket) = 0;
  [[nodiscard]] virtual StateBackendHealth health() const = 0;
};

// Today's per-process objects behind the interface (either may be null = that check is off).
// admit() completes inline: rate check first, then the ledger; a budget deny refunds the rate
// tokens, exactly as the gateway has always done.
class LocalStateBackend final : public StateBackend {
 public:
  LocalStateBackend(BudgetLedger* ledger, RateLimiter* rate_limiter)
      : ledger_(ledger), rate_limiter_(rate_limiter) {}

  void admit(const AdmitRequest& request, AdmitDone done) override;
  void settle(const AdmitTicket& ticket, std::int64_t actual_tokens) override;
  void release(const AdmitTicket& ticket) override;
  [[nodiscard]] StateBackendHealth health() const override;

 private:
  BudgetLedger* ledger_;
  RateLimiter* rate_limiter_;
};

// UTC day number (days since 1970-01-01) of a wall-clock time.
std::int64_t utc_day_number(std::chrono::system_clock::time_point t);

}  // namespace sallyport::governance

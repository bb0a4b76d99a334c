#pragma once
// The fleet state backend: daily token budgets (per tenant and per sandbox) and tenant rpm/tpm
// token buckets kept in Redis and changed only by Lua scripts (governance/redis_scripts.hpp), so
// every replica of every sandbox of a tenant draws from the same numbers without lost updates.
//
// Per request: admit = one EVALSHA of the ADMIT script (EVAL once on NOSCRIPT); settle/release
// = one EVALSHA of the SETTLE script, idempotent per ticket id. The command sink bounds every
// call by its deadline, so admit() answers within it (twice it, when the script must be sent).
//
// When Redis does not answer (no connection, timeout, script error):
//   fail_closed → deny "budget:unavailable" (rule "state_backend:redis"; the gateway answers 503
//                 with Retry-After: 1);
//   fail_open   → allow without the shared store (ticket.shared = false: nothing to settle in
//                 Redis); the caller's local limits are the floor.
// A settle that cannot be delivered is queued (bounded, oldest dropped and counted) and sent
// again after the next call that succeeds; the ticket id marker makes a resend harmless.
// A reservation whose process died before settling stays reserved until its day's keys expire
// (the safe side, as the local ledger charges unsettled reservations at recovery).
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "governance/redis_command.hpp"
#include "governance/redis_scripts.hpp"
#include "governance/state_backend.hpp"

namespace sallyport::governance {

struct RedisBackendOptions {
  RedisKeys keys;                        // prefix, tenant, sandbox
  std::int64_t tenant_daily_tokens = 0;  // state_backend.tenant.daily_tokens; 0 = no cap
  std::int64_t sandbox_daily_tokens = 0; // budgets.daily_tokens (fleet-wide per sandbox)
  std::int64_t tenant_rpm = 0;           // state_backend.tenant.rpm; 0 = off
  std::int64_t tenant_tpm = 0;           // state_backend.tenant.tpm; 0 = off
  OnUnavailable on_unavailable = OnUnavailable::fail_closed;
  WallClock clock;                       // default system_clock::now (UTC day of the keys)
  std::size_t max_pending_settles = 10000;
  std::int64_t key_ttl_seconds = 48 * 3600;
};

class RedisStateBackend final : public StateBackend {
 public:
  // `sink` must outlive this object and every callback it has been handed.
  RedisStateBackend(RedisCommandSink& sink, RedisBackendOptions options);

  void admit(const AdmitRequest& request, AdmitDone done) override;
  void settle(const AdmitTicket& ticket, std::int64_t actual_tokens) override;
  void release(const AdmitTicket& ticket) override;
  [[nodiscard]] StateBackendHealth health() const override;

  [[nodiscard]] const RedisBackendOptions& options() const noexcept;

  struct Shared;  // state shared with in-flight callbacks (redis_state_backend.cpp)

 private:
  std::shared_ptr<Shared> shared_;
};

// Maps a decoded ADMIT reply to the admission result (no I/O; unit-tested).
AdmitResult admit_result_from_reply(const AdmitReply& reply);

}  // namespace sallyport::governance

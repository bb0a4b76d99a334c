#pragma once
// Lua scripts and key names of the Redis state backend. Every key of one tenant carries the
// tenant as a cluster hash tag, so one script touches one slot:
//   {prefix}:{<tenant>}:budget:<YYYY-MM-DD>                      hash spent, reserved  (48 h TTL)
//   {prefix}:{<tenant>}:sandbox:<sandbox>:budget:<YYYY-MM-DD>    hash spent, reserved  (48 h TTL)
//   {prefix}:{<tenant>}:rate                                     hash r, t, ts (bucket; 2 min TTL)
//   {prefix}:{<tenant>}:settled:<ticket id>                      settle idempotency marker (1 h)
//   {prefix}:{<tenant>}:trust:<agent>                            hash score, lv, wh, rw, v (30 d)
//   {prefix}:{<tenant>}:trust-op:<mutation id>                   trust idempotency marker (1 h)
//   {prefix}:{<tenant>}:approval:<id>                            hash of one approval record
//                                                                (TTL = approval timeout + margin)
//   {prefix}:{<tenant>}:approvals                                zset id -> expires_ms (listing)
// Tenant and sandbox names are escaped (anything outside [A-Za-z0-9._-] becomes %XX), so an
// identity can never forge another tenant's key or break the hash tag.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "governance/redis_command.hpp"

namespace sallyport::governance {

// ADMIT: KEYS tenant_budget, sandbox_budget, rate;
//        ARGV tenant_cap, sandbox_cap, reserve, ttl_s, rpm, tpm, rate_tokens (0 = off)
// → {0, tenant_remaining, sandbox_remaining}  admitted (-1 = unlimited)
//   {1, retry_ms} rate:rpm   {2, retry_ms} rate:tpm   {5, 0} tpm:exceeds-burst
//   {3, remaining} budget:daily (tenant)   {4, remaining} budget:daily (sandbox)
extern const std::string_view kAdmitScript;
// SETTLE: KEYS reserve-day tenant, reserve-day sandbox, today tenant, today sandbox, rate, marker
//         ARGV reserved, charged, ttl_s, tpm, tpm_delta (charged - rate_tokens; refund if < 0)
// → 1 applied, 0 already applied (marker existed).
extern const std::string_view kSettleScript;

// Lower-case hex SHA-1 of a script (the EVALSHA name).
std::string script_sha1(std::string_view script);

std::string escape_key_part(std::string_view part);

struct RedisKeys {
  std::string prefix = "sallyport";
  std::string tenant = "default";
  std::string sandbox = "default";

  [[nodiscard]] std::string tenant_budget(std::int64_t day) const;
  [[nodiscard]] std::string sandbox_budget(std::int64_t day) const;
  [[nodiscard]] std::string rate() const;
  [[nodiscard]] std::string settled(std::string_view ticket_id) const;
  [[nodiscard]] std::string trust(std::string_view agent) const;
  [[nodiscard]] std::string trust_op(std::string_view mutation_id) const;
  [[nodiscard]] std::string approval(std::string_view id) const;
  [[nodiscard]] std::string approval_prefix() const;  // approval(id) == approval_prefix() + escaped id
  [[nodiscard]] std::string approvals() const;

 private:
  [[nodiscard]] std::string base() const;
};

// Decoded ADMIT reply; `valid` false on any unexpected shape (treated as a backend error).
struct AdmitReply {
  bool valid = false;
  int code = -1;
  std::int64_t a = 0, b = 0;
};
AdmitReply parse_admit_reply(const RedisReply& reply);

// True for a NOSCRIPT error reply (EVALSHA of a script the server does not have cached).
bool is_noscript(const RedisReply& reply);

// EVALSHA `sha` (= script_sha1(script)); on NOSCRIPT one EVAL, which also caches the script on
// the server. `script` must outlive the call (the k*Script constants do). `done` runs once.
void eval_script(RedisCommandSink& sink, std::string_view script, const std::string& sha,
                 std::vector<std::string> keys, std::vector<std::string> args, RedisCommandSink::Done done);

// The sink's answer, waited for from a thread that is not the sink's own, at most `deadline`
// (then RedisOutcome::timeout). For the admin API's rare calls; never on the request path.
RedisResult eval_script_blocking(RedisCommandSink& sink, std::string_view script, const std::string& sha,
                                 std::vector<std::string> keys, std::vector<std::string> args,
                                 std::chrono::milliseconds deadline);

// Outcome text of a failed call ("" when it replied with a non-error reply).
std::string redis_failure(const RedisResult& result);

// Counts the failed calls of one component and logs (warn) the first failure of each run of
// failures, so an outage is one log line, not one per call. Thread-safe.
class RedisCallLog {
 public:
  RedisCallLog(std::string component, std::string down_message)
      : component_(std::move(component)), down_message_(std::move(down_message)) {}
  // The failure text ("" when the call succeeded); `shape_ok` false = unexpected reply.
  std::string note(const RedisResult& result, bool shape_ok);
  [[nodiscard]] std::uint64_t errors() const noexcept { return errors_.load(); }

 private:
  const std::string component_;
  const std::string down_message_;
  std::atomic<std::uint64_t> errors_{0};
  std::atomic<bool> last_ok_{true};
};

}  // namespace sallyport::governance

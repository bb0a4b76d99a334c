#pragma once
// Lua scripts and key names of the Redis state backend. Every key of one tenant carries the
// tenant as a cluster hash tag, so one script touches one slot:
//   {prefix}:{<tenant>}:budget:<YYYY-MM-DD>                      hash spent, reserved  (48 h TTL)
//   {prefix}:{<tenant>}:sandbox:<sandbox>:budget:<YYYY-MM-DD>    hash spent, reserved  (48 h TTL)
//   {prefix}:{<tenant>}:rate                                     hash r, t, ts (bucket; 2 min TTL)
//   {prefix}:{<tenant>}:settled:<ticket id>                      settle idempotency marker (1 h)
// Tenant and sandbox names are escaped (anything outside [A-Za-z0-9._-] becomes %XX), so an
// identity can never forge another tenant's key or break the hash tag.
#include <cstdint>
#include <string>
#include <string_view>

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

}  // namespace sallyport::governance

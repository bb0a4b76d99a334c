#pragma once
// Lua scripts and reply decoding for the fleet's trust scores and approval records (issue 12),
// beside the budget/rate scripts of governance/redis_scripts.hpp (same keys, same hash tag).
// Keys: RedisKeys::trust / trust_op / approval / approvals.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "governance/approval_store.hpp"
#include "governance/redis_command.hpp"

namespace sallyport::governance {

// TRUST: KEYS trust hash, mutation marker
//        ARGV op ("penalize"|"reset"|"recover"), amount, initial, ttl_s, pause_s, ceiling,
//             max_per_hour
// penalize: score = max(0, score - amount), last violation = now (Redis TIME, seconds);
// reset: score = clamp(amount, 0, 1000), last violation cleared; recover: + at most amount,
// not while paused after a violation, at most max_per_hour per UTC hour, never above ceiling.
// A mutation whose marker exists (a resend) changes nothing. Every change bumps the version.
// → {score, last_violation, version, applied (1/0)}
extern const std::string_view kTrustScript;

// APPROVAL_CREATE: KEYS record hash, index zset; ARGV id, ttl_ms, expires_ms, field, value, …
// → 1 created, 0 the id already existed (nothing changed).
extern const std::string_view kApprovalCreateScript;
// APPROVAL_DECIDE: KEYS record hash; ARGV state ("approved"|"denied"|"expired"), actor, reason.
// Only a pending record changes; a pending record past expires_ms (Redis TIME) becomes expired
// instead of approved/denied. So of two deciders exactly one wins.
// → {0} no such record; {1, field, value, …} decided now; {2, field, value, …} already decided.
extern const std::string_view kApprovalDecideScript;
// APPROVAL_LIST: KEYS index zset; ARGV record key prefix, limit
// → {{field, value, …}, …} pending records not yet expired, oldest deadline first. The record
// keys are derived in the script; they share the index's hash tag (one cluster slot).
extern const std::string_view kApprovalListScript;

// Decoded TRUST reply or HMGET score lv v (`pulled`: exists = the hash was there).
struct TrustReply {
  bool valid = false;
  bool exists = false;
  int score = 0;
  std::int64_t last_violation = 0;  // seconds since the epoch, 0 = none
  std::int64_t version = 0;
  bool applied = false;  // TRUST: this mutation changed the record
};
TrustReply parse_trust_reply(const RedisReply& reply);   // TRUST script reply
TrustReply parse_trust_fields(const RedisReply& reply);  // HMGET key score lv v

// Record fields as stored (never the raw arguments: they may hold secrets).
std::vector<std::string> approval_fields(const ApprovalRecord& record);
// A record from a flat {field, value, …} array starting at `offset`; nullopt when the id,
// state or times are missing or malformed.
std::optional<ApprovalRecord> approval_from_fields(const RedisReply& flat, std::size_t offset = 0);

struct ApprovalDecideReply {
  bool valid = false;
  int code = -1;  // 0 not found, 1 decided now, 2 already decided
  std::optional<ApprovalRecord> record;
};
ApprovalDecideReply parse_approval_decide_reply(const RedisReply& reply);
// nullopt on an unexpected shape; malformed entries are skipped.
std::optional<std::vector<ApprovalRecord>> parse_approval_list_reply(const RedisReply& reply);

std::optional<ApprovalState> parse_approval_state(std::string_view text) noexcept;

}  // namespace sallyport::governance

// Fleet trust and approval scripts and their reply decoding (contracts in fleet_scripts.hpp).
#include "governance/fleet_scripts.hpp"

#include <charconv>

namespace sallyport::governance {

// The marker is taken first, so a resent mutation (after a timeout whose first attempt ran) is
// answered with the current state and changes nothing.
const std::string_view kTrustScript = R"lua(
local op = ARGV[1]
local amount = tonumber(ARGV[2])
local initial = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local pause = tonumber(ARGV[5])
local ceiling = tonumber(ARGV[6])
local max_hour = tonumber(ARGV[7])
local st = redis.call('HMGET', KEYS[1], 'score', 'lv', 'wh', 'rw', 'v')
local score = tonumber(st[1]) or initial
local lv = tonumber(st[2]) or 0
local wh = tonumber(st[3]) or 0
local rw = tonumber(st[4]) or 0
local v = tonumber(st[5]) or 0
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', 3600) then return {score, lv, v, 0} end
local now = tonumber(redis.call('TIME')[1])
if op == 'penalize' then
  score = math.max(0, score - amount)
  lv = now
elseif op == 'reset' then
  score = math.min(1000, math.max(0, amount))
  lv = 0
  rw = 0
elseif op == 'recover' then
  if lv ~= 0 and now - lv < pause then return {score, lv, v, 0} end
  local hour = math.floor(now / 3600)
  if wh ~= hour then wh = hour; rw = 0 end
  local gain = math.min(amount, max_hour - rw, ceiling - score)
  if gain <= 0 then return {score, lv, v, 0} end
  score = score + gain
  rw = rw + gain
else
  return redis.error_reply('unknown trust op')
end
v = v + 1
redis.call('HSET', KEYS[1], 'score', score, 'lv', lv, 'wh', wh, 'rw', rw, 'v', v)
redis.call('EXPIRE', KEYS[1], ttl)
return {score, lv, v, 1}
)lua";

const std::string_view kApprovalCreateScript = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'state', 'pending')
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[2]) + 3600000)
return 1
)lua";

const std::string_view kApprovalDecideScript = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local code = 2
if redis.call('HGET', KEYS[1], 'state') == 'pending' then
  local expires = tonumber(redis.call('HGET', KEYS[1], 'expires_ms')) or 0
  if ARGV[1] ~= 'expired' and now >= expires then
    redis.call('HSET', KEYS[1], 'state', 'expired', 'actor', 'timeout', 'reason', 'not decided in time',
               'decided_ms', now)
  else
    redis.call('HSET', KEYS[1], 'state', ARGV[1], 'actor', ARGV[2], 'reason', ARGV[3], 'decided_ms', now)
    code = 1
  end
end
local out = {code}
for _, x in ipairs(redis.call('HGETALL', KEYS[1])) do out[#out + 1] = x end
return out
)lua";

const std::string_view kApprovalListScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 3600000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  local key = ARGV[1] .. id
  if redis.call('HGET', key, 'state') == 'pending' then out[#out + 1] = redis.call('HGETALL', key) end
end
return out
)lua";

namespace {

using Type = RedisReply::Type;

std::optional<std::int64_t> to_int(const RedisReply& r) {
  if (r.type == Type::integer) return r.integer;
  if (r.type != Type::string && r.type != Type::status) return std::nullopt;
  std::int64_t v = 0;
  const auto* end = r.text.data() + r.text.size();
  const auto [ptr, ec] = std::from_chars(r.text.data(), end, v);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

std::int64_t to_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::chrono::system_clock::time_point from_ms(std::int64_t ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

bool fill_trust(TrustReply& out, std::optional<std::int64_t> score, std::optional<std::int64_t> lv,
                std::optional<std::int64_t> version) {
  if (!score || !lv || !version || *score < 0 || *score > 1000 || *lv < 0 || *version < 0)
    return false;
  out.score = static_cast<int>(*score);
  out.last_violation = *lv;
  out.version = *version;
  return true;
}

}  // namespace

TrustReply parse_trust_reply(const RedisReply& reply) {
  TrustReply out;
  if (reply.type != Type::array || reply.elements.size() != 4) return out;
  const auto& e = reply.elements;
  const auto applied = to_int(e[3]);
  if (!applied || !fill_trust(out, to_int(e[0]), to_int(e[1]), to_int(e[2]))) return out;
  out.valid = true;
  out.exists = true;
  out.applied = *applied == 1;
  return out;
}

TrustReply parse_trust_fields(const RedisReply& reply) {
  TrustReply out;
  if (reply.type != Type::array || reply.elements.size() != 3) return out;
  const auto& e = reply.elements;
  if (e[0].type == Type::nil) {  // no shared record (never written, or expired)
    out.valid = true;
    return out;
  }
  if (!fill_trust(out, to_int(e[0]), e[1].type == Type::nil ? 0 : to_int(e[1]),
                  e[2].type == Type::nil ? 0 : to_int(e[2]))) {
    return out;
  }
  out.valid = true;
  out.exists = true;
  return out;
}

std::optional<ApprovalState> parse_approval_state(std::string_view text) noexcept {
  for (auto s : {ApprovalState::pending, ApprovalState::approved, ApprovalState::denied,
                 ApprovalState::expired}) {
    if (text == to_string(s)) return s;
  }
  return std::nullopt;
}

std::vector<std::string> approval_fields(const ApprovalRecord& r) {
  return {"id",           r.id,
          "sandbox",      r.sandbox,
          "tool",         r.tool,
          "args_sha256",  r.args_sha256,
          "args_summary", r.args_summary,
          "rule",         r.rule,
          "call_id",      r.call_id,
          "created_ms",   std::to_string(to_ms(r.created)),
          "expires_ms",   std::to_string(to_ms(r.expires))};
}

std::optional<ApprovalRecord> approval_from_fields(const RedisReply& flat, std::size_t offset) {
  if (flat.type != Type::array || offset > flat.elements.size() ||
      (flat.elements.size() - offset) % 2 != 0) {
    return std::nullopt;
  }
  ApprovalRecord r;
  std::optional<std::int64_t> created, expires, decided;
  std::optional<ApprovalState> state;
  for (std::size_t i = offset; i < flat.elements.size(); i += 2) {
    const auto& key = flat.elements[i];
    const auto& value = flat.elements[i + 1];
    if (key.type != Type::string || value.type != Type::string) return std::nullopt;
    const std::string& k = key.text;
    const std::string& v = value.text;
    if (k == "id")
      r.id = v;
    else if (k == "sandbox")
      r.sandbox = v;
    else if (k == "tool")
      r.tool = v;
    else if (k == "args_sha256")
      r.args_sha256 = v;
    else if (k == "args_summary")
      r.args_summary = v;
    else if (k == "rule")
      r.rule = v;
    else if (k == "call_id")
      r.call_id = v;
    else if (k == "actor")
      r.actor = v;
    else if (k == "reason")
      r.reason = v;
    else if (k == "state")
      state = parse_approval_state(v);
    else if (k == "created_ms")
      created = to_int(value);
    else if (k == "expires_ms")
      expires = to_int(value);
    else if (k == "decided_ms")
      decided = to_int(value);
  }
  if (r.id.empty() || !state || !created || !expires) return std::nullopt;
  r.state = *state;
  r.created = from_ms(*created);
  r.expires = from_ms(*expires);
  if (decided) r.decided = from_ms(*decided);
  return r;
}

ApprovalDecideReply parse_approval_decide_reply(const RedisReply& reply) {
  ApprovalDecideReply out;
  if (reply.type != Type::array || reply.elements.empty() ||
      reply.elements[0].type != Type::integer)
    return out;
  const auto code = reply.elements[0].integer;
  if (code == 0) {
    out.valid = reply.elements.size() == 1;
    out.code = 0;
    return out;
  }
  if (code != 1 && code != 2) return out;
  out.record = approval_from_fields(reply, 1);
  out.valid = out.record.has_value();
  out.code = static_cast<int>(code);
  return out;
}

std::optional<std::vector<ApprovalRecord>> parse_approval_list_reply(const RedisReply& reply) {
  if (reply.type != Type::array) return std::nullopt;
  std::vector<ApprovalRecord> out;
  for (const auto& entry : reply.elements) {
    if (auto record = approval_from_fields(entry)) out.push_back(std::move(*record));
  }
  return out;
}

}  // namespace sallyport::governance

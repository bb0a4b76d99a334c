#include "governance/redis_scripts.hpp"

#include <openssl/evp.h>

#include <cstdio>
#include <future>
#include <memory>

#include "common/log.hpp"
#include "governance/budget_ledger.hpp"

namespace sallyport::governance {

// Rate buckets are refilled from Redis' own clock (TIME), so replicas with skewed clocks agree;
// scripts are replicated by effects (Redis ≥ 5), which makes TIME safe before writes.
const std::string_view kAdmitScript = R"lua(
local tenant_cap = tonumber(ARGV[1])
local sandbox_cap = tonumber(ARGV[2])
local amount = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local rpm = tonumber(ARGV[5])
local tpm = tonumber(ARGV[6])
local need = tonumber(ARGV[7])
local r, tk, now
if rpm > 0 or tpm > 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local st = redis.call('HMGET', KEYS[3], 'r', 't', 'ts')
  r = tonumber(st[1]) or rpm
  tk = tonumber(st[2]) or tpm
  local dt = now - (tonumber(st[3]) or now)
  if dt < 0 then dt = 0 end
  if rpm > 0 then r = math.min(rpm, r + dt * rpm / 60000) end
  if tpm > 0 then tk = math.min(tpm, tk + dt * tpm / 60000) end
  if rpm > 0 and r < 1 then return {1, math.ceil((1 - r) * 60000 / rpm)} end
  if tpm > 0 and need > tpm then return {5, 0} end
  if tpm > 0 and tk < need then return {2, math.ceil((need - tk) * 60000 / tpm)} end
end
local function room(key, cap)
  if cap <= 0 then return -1 end
  local v = redis.call('HMGET', key, 'spent', 'reserved')
  return cap - (tonumber(v[1]) or 0) - (tonumber(v[2]) or 0)
end
local tl = room(KEYS[1], tenant_cap)
if tenant_cap > 0 and tl < amount then return {3, math.max(0, tl)} end
local sl = room(KEYS[2], sandbox_cap)
if sandbox_cap > 0 and sl < amount then return {4, math.max(0, sl)} end
if rpm > 0 or tpm > 0 then
  if rpm > 0 then r = r - 1 end
  if tpm > 0 then tk = tk - need end
  redis.call('HSET', KEYS[3], 'r', tostring(r), 't', tostring(tk), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[3], 120000)
end
if amount > 0 then
  redis.call('HINCRBY', KEYS[1], 'reserved', amount)
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('HINCRBY', KEYS[2], 'reserved', amount)
  redis.call('EXPIRE', KEYS[2], ttl)
end
if tl >= 0 then tl = tl - amount end
if sl >= 0 then sl = sl - amount end
return {0, tl, sl}
)lua";

// The marker makes a retried settle (after a timeout whose first attempt did run) a no-op.
const std::string_view kSettleScript = R"lua(
local reserved = tonumber(ARGV[1])
local charged = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local tpm = tonumber(ARGV[4])
local delta = tonumber(ARGV[5])
if not redis.call('SET', KEYS[6], '1', 'NX', 'EX', 3600) then return 0 end
local function unreserve(key)
  if reserved <= 0 then return end
  local v = redis.call('HINCRBY', key, 'reserved', -reserved)
  if v < 0 then redis.call('HSET', key, 'reserved', 0) end
  redis.call('EXPIRE', key, ttl)
end
unreserve(KEYS[1])
unreserve(KEYS[2])
if charged > 0 then
  redis.call('HINCRBY', KEYS[3], 'spent', charged)
  redis.call('EXPIRE', KEYS[3], ttl)
  redis.call('HINCRBY', KEYS[4], 'spent', charged)
  redis.call('EXPIRE', KEYS[4], ttl)
end
if tpm > 0 and delta ~= 0 then
  local t = tonumber(redis.call('HGET', KEYS[5], 't'))
  if t then redis.call('HSET', KEYS[5], 't', tostring(math.min(tpm, t - delta))) end
end
return 1
)lua";

std::string script_sha1(std::string_view script) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(script.data(), script.size(), digest, &length, EVP_sha1(), nullptr);
  std::string hex;
  hex.reserve(length * 2);
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xf];
  }
  return hex;
}

std::string escape_key_part(std::string_view part) {
  std::string out;
  out.reserve(part.size());
  for (const char c : part) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '.' ||
        c == '_' || c == '-') {
      out += c;
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", u);
      out += buf;
    }
  }
  return out;
}

std::string RedisKeys::base() const {
  return escape_key_part(prefix) + ":{" + escape_key_part(tenant) + "}";
}

std::string RedisKeys::tenant_budget(std::int64_t day) const {
  return base() + ":budget:" + utc_day_string(day);
}

std::string RedisKeys::sandbox_budget(std::int64_t day) const {
  return base() + ":sandbox:" + escape_key_part(sandbox) + ":budget:" + utc_day_string(day);
}

std::string RedisKeys::rate() const { return base() + ":rate"; }

std::string RedisKeys::settled(std::string_view ticket_id) const {
  return base() + ":settled:" + escape_key_part(ticket_id);
}

std::string RedisKeys::trust(std::string_view agent) const {
  return base() + ":trust:" + escape_key_part(agent);
}

std::string RedisKeys::trust_op(std::string_view mutation_id) const {
  return base() + ":trust-op:" + escape_key_part(mutation_id);
}

std::string RedisKeys::approval_prefix() const { return base() + ":approval:"; }

std::string RedisKeys::approval(std::string_view id) const { return approval_prefix() + escape_key_part(id); }

std::string RedisKeys::approvals() const { return base() + ":approvals"; }

AdmitReply parse_admit_reply(const RedisReply& reply) {
  AdmitReply out;
  if (reply.type != RedisReply::Type::array || reply.elements.size() < 2) return out;
  for (const auto& e : reply.elements) {
    if (e.type != RedisReply::Type::integer) return out;
  }
  out.code = static_cast<int>(reply.elements[0].integer);
  out.a = reply.elements[1].integer;
  if (out.code == 0) {
    if (reply.elements.size() != 3) return out;
    out.b = reply.elements[2].integer;
  }
  out.valid = out.code >= 0 && out.code <= 5;
  return out;
}

bool is_noscript(const RedisReply& reply) {
  return reply.is_error() && reply.text.rfind("NOSCRIPT", 0) == 0;
}

void eval_script(RedisCommandSink& sink, std::string_view script, const std::string& sha,
                 std::vector<std::string> keys, std::vector<std::string> args, RedisCommandSink::Done done) {
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.emplace_back("EVALSHA");
  argv.push_back(sha);
  argv.push_back(std::to_string(keys.size()));
  for (auto& k : keys) argv.push_back(std::move(k));
  for (auto& a : args) argv.push_back(std::move(a));
  auto retry = argv;  // small: keys and numbers; the script text is added only if needed
  sink.execute(std::move(argv), [&sink, script, retry = std::move(retry), done = std::move(done)](
                                    RedisResult result) mutable {
    if (result.outcome == RedisOutcome::replied && is_noscript(result.reply)) {
      retry[0] = "EVAL";
      retry[1] = std::string(script);
      sink.execute(std::move(retry), std::move(done));
      return;
    }
    done(std::move(result));
  });
}

RedisResult eval_script_blocking(RedisCommandSink& sink, std::string_view script, const std::string& sha,
                                 std::vector<std::string> keys, std::vector<std::string> args,
                                 std::chrono::milliseconds deadline) {
  // Shared with the callback, which may run after this function gave up waiting.
  auto promise = std::make_shared<std::promise<RedisResult>>();
  auto answer = promise->get_future();
  eval_script(sink, script, sha, std::move(keys), std::move(args),
              [promise](RedisResult result) { promise->set_value(std::move(result)); });
  if (answer.wait_for(deadline) != std::future_status::ready) {
    return {RedisOutcome::timeout, {}, "no answer within " + std::to_string(deadline.count()) + " ms"};
  }
  return answer.get();
}

std::string redis_failure(const RedisResult& result) {
  if (result.outcome != RedisOutcome::replied) {
    return "redis " + std::string(to_string(result.outcome)) + ": " + result.detail;
  }
  if (result.reply.is_error()) return "redis error reply: " + result.reply.text.substr(0, 200);
  return {};
}

std::string RedisCallLog::note(const RedisResult& result, bool shape_ok) {
  std::string failure = redis_failure(result);
  if (failure.empty() && !shape_ok) failure = "redis answered an unexpected reply";
  if (failure.empty()) {
    last_ok_.store(true);
    return failure;
  }
  errors_.fetch_add(1);
  if (last_ok_.exchange(false)) log::warn(component_, down_message_, {{"error", failure}});
  return failure;
}

std::string_view to_string(RedisOutcome outcome) noexcept {
  switch (outcome) {
    case RedisOutcome::replied: return "replied";
    case RedisOutcome::timeout: return "timeout";
    case RedisOutcome::unavailable: return "unavailable";
    case RedisOutcome::protocol_error: return "protocol_error";
  }
  return "unknown";
}

}  // namespace sallyport::governance

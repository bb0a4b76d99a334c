#include "governance/audit_record.hpp"

#define OPENSSL_SUPPRESS_DEPRECATED  // the low-level SHA256_* calls are the fastest path
#include <openssl/sha.h>

#include <cstring>
#include <ctime>

#include "governance/canonical_json.hpp"

namespace sallyport::audit {
namespace {

HashBytes hash_parts(const std::uint8_t* prefix, std::size_t prefix_len, std::string_view a,
                     std::string_view b) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  if (prefix_len != 0) SHA256_Update(&ctx, prefix, prefix_len);
  SHA256_Update(&ctx, a.data(), a.size());
  if (!b.empty()) SHA256_Update(&ctx, b.data(), b.size());
  HashBytes out{};
  SHA256_Final(out.data(), &ctx);
  return out;
}

// Hex digit values; -1 for anything else. A table: the verifier decodes two hashes per record.
constexpr std::array<signed char, 256> make_hex_table(bool lower_only) {
  std::array<signed char, 256> t{};
  for (auto& v : t) v = -1;
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = static_cast<signed char>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[static_cast<std::size_t>(c)] = static_cast<signed char>(c - 'a' + 10);
  if (!lower_only)
    for (int c = 'A'; c <= 'F'; ++c) t[static_cast<std::size_t>(c)] = static_cast<signed char>(c - 'A' + 10);
  return t;
}
constexpr auto kHexValue = make_hex_table(false);
constexpr auto kLowerHexValue = make_hex_table(true);

int hex_value(char c) { return kHexValue[static_cast<unsigned char>(c)]; }

bool is_lower_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  int bad = 0;
  for (char c : s) bad |= kLowerHexValue[static_cast<unsigned char>(c)];
  return bad >= 0;  // any -1 sets the sign bit
}

void append_field(std::string& out, std::string_view key, std::string_view value) {
  out.push_back('"');
  out.append(key);
  out += "\":";
  append_canonical_string(out, value, InvalidUtf8::replace);
  out.push_back(',');
}

// Cursor over one line: the tiny JSON walker behind scan_record().
struct Walker {
  std::string_view s;
  std::size_t i = 0;

  bool eat(char c) {
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  // Skips a string starting at '"'; returns the raw content (between the quotes). This is the
  // verifier's hot loop. Control characters are not rejected here: the record hash, not the
  // scanner, protects the content.
  bool string(std::string_view& content) {
    if (!eat('"')) return false;
    const std::size_t start = i;
    const std::size_t n = s.size();
    const char* p = s.data();
    while (i < n) {
      const char c = p[i];
      if (c == '"') {
        content = s.substr(start, i - start);
        ++i;
        return true;
      }
      i += c == '\\' ? 2 : 1;  // skip the escaped character
    }
    return false;
  }
  // Skips any JSON value; nested objects/arrays by depth counting with string awareness.
  bool value(std::string_view& raw) {
    const std::size_t start = i;
    if (i >= s.size()) return false;
    const char c = s[i];
    if (c == '"') {
      std::string_view ignored;
      if (!string(ignored)) return false;
    } else if (c == '{' || c == '[') {
      // One tight pass with inline string state: nested details are the bulk of a record.
      const char* p = s.data();
      const std::size_t n = s.size();
      int depth = 0;
      bool in_string = false;
      for (; i < n; ++i) {
        const char d = p[i];
        if (in_string) {
          if (d == '\\') ++i;
          else if (d == '"') in_string = false;
        } else if (d == '"') {
          in_string = true;
        } else if (d == '{' || d == '[') {
          ++depth;
        } else if ((d == '}' || d == ']') && --depth == 0) {
          ++i;
          break;
        }
      }
      if (depth != 0) return false;
    } else {
      while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']') ++i;
      if (i == start) return false;
    }
    raw = s.substr(start, i - start);
    return true;
  }
};

bool parse_u64(std::string_view text, std::uint64_t& out) {
  if (text.empty() || text.size() > 19 || (text.size() > 1 && text[0] == '0')) return false;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out = v;
  return true;
}

}  // namespace

AuditEvent AuditEvent::from_decision(std::string kind, const Decision& decision,
                                     nlohmann::json extra) {
  AuditEvent event;
  event.kind = std::move(kind);
  event.decision = to_string(decision.verdict);
  event.reason = decision.reason;
  if (!extra.is_object()) extra = nlohmann::json{{"extra", std::move(extra)}};
  if (!decision.rule.empty()) extra["rule"] = decision.rule;
  if (!decision.detail.empty()) extra["detail"] = decision.detail;
  event.detail = std::move(extra);
  return event;
}

HashBytes chain_hash(const HashBytes& prev, std::string_view canonical) {
  return hash_parts(prev.data(), prev.size(), canonical, {});
}

HashBytes sha256(std::string_view data) { return hash_parts(nullptr, 0, data, {}); }

std::string to_hex(const std::uint8_t* data, std::size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (std::size_t k = 0; k < size; ++k) {
    out[2 * k] = kHex[data[k] >> 4];
    out[2 * k + 1] = kHex[data[k] & 0xF];
  }
  return out;
}

bool from_hex(std::string_view hex, std::uint8_t* out, std::size_t size) {
  if (hex.size() != size * 2) return false;
  for (std::size_t k = 0; k < size; ++k) {
    const int hi = hex_value(hex[2 * k]);
    const int lo = hex_value(hex[2 * k + 1]);
    if (hi < 0 || lo < 0) return false;
    out[k] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

std::string format_rfc3339_micros(std::chrono::system_clock::time_point tp) {
  using namespace std::chrono;
  const auto micros = duration_cast<microseconds>(tp.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(micros / 1000000);
  long frac = static_cast<long>(micros % 1000000);
  if (frac < 0) {
    frac += 1000000;
    --secs;
  }
  // The date/time part changes once a second; cache it per thread (gmtime_r is not cheap).
  thread_local std::time_t cached_secs = -1;
  thread_local char cached[80];
  if (secs != cached_secs) {
    std::tm tm{};
    gmtime_r(&secs, &tm);
    std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_secs = secs;
  }
  std::string out(cached);
  char tail[16];
  tail[0] = '.';
  for (int k = 6; k >= 1; --k) {
    tail[k] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  tail[7] = 'Z';
  out.append(tail, 8);
  return out;
}

std::string encode_record(const AuditEvent& event, const Attribution& attribution,
                          std::uint64_t seq, const HashBytes& prev, HashBytes& hash_out) {
  const Attribution& who = event.attribution ? *event.attribution : attribution;
  std::string out;
  out.reserve(512);
  out.push_back('{');
  append_field(out, "decision", event.decision);
  out += "\"detail\":";
  if (event.detail.is_null()) {
    out += "{}";
  } else {
    append_canonical_json(out, event.detail, InvalidUtf8::replace);
  }
  out.push_back(',');
  append_field(out, "kind", event.kind);
  append_field(out, "namespace", who.namespace_);
  append_field(out, "pod", who.pod);
  out += "\"prev\":\"";
  out += to_hex(prev);
  out += "\",";
  append_field(out, "reason", event.reason);
  append_field(out, "sandbox", who.sandbox);
  out += "\"seq\":";
  out += std::to_string(seq);
  out.push_back(',');
  if (event.step) append_field(out, "step", *event.step);
  if (event.task) append_field(out, "task", *event.task);
  append_field(out, "tenant", who.tenant);
  out += "\"ts\":\"";
  out += format_rfc3339_micros(event.time ? *event.time : std::chrono::system_clock::now());
  out += "\"}";
  hash_out = chain_hash(prev, out);
  out.pop_back();
  out += ",\"hash\":\"";
  out += to_hex(hash_out);
  out += "\"}\n";
  return out;
}

std::optional<ScannedRecord> scan_record(std::string_view line, std::string& error) {
  ScannedRecord rec;
  Walker w{line};
  if (!w.eat('{')) {
    error = "record is not a JSON object";
    return std::nullopt;
  }
  bool have_seq = false, have_hash = false;
  while (true) {
    const std::size_t key_start = w.i;
    std::string_view key, raw;
    if (!w.string(key) || !w.eat(':') || !w.value(raw)) {
      error = "invalid JSON near byte " + std::to_string(w.i);
      return std::nullopt;
    }
    auto content = [&raw] { return raw.size() >= 2 && raw.front() == '"' ? raw.substr(1, raw.size() - 2) : std::string_view{}; };
    if (key == "hash") {
      rec.hash = content();
      rec.canonical_len = key_start - 1;  // drop the ',' before "hash"
      have_hash = true;
    } else if (have_hash) {
      error = "\"hash\" is not the last key";
      return std::nullopt;
    } else if (key == "seq") {
      if (!parse_u64(raw, rec.seq)) {
        error = "\"seq\" is not an unsigned integer";
        return std::nullopt;
      }
      have_seq = true;
    } else if (key == "prev") {
      rec.prev = content();
    } else if (key == "kind") {
      rec.kind = content();
    } else if (key == "ts") {
      rec.ts = content();
    } else if (key == "decision") {
      rec.decision = content();
    } else if (key == "reason") {
      rec.reason = content();
    } else if (key == "detail") {
      rec.detail = raw;
    }
    if (w.eat(',')) continue;
    if (w.eat('}')) break;
    error = "expected ',' or '}' at byte " + std::to_string(w.i);
    return std::nullopt;
  }
  if (w.i != line.size()) {
    error = "trailing bytes after the record";
    return std::nullopt;
  }
  if (!have_seq || !have_hash || rec.kind.empty() || rec.ts.empty()) {
    error = "missing one of seq, hash, kind, ts";
    return std::nullopt;
  }
  if (!is_lower_hex64(rec.hash) || !is_lower_hex64(rec.prev)) {
    error = "\"hash\" or \"prev\" is not 64 lower-case hex digits";
    return std::nullopt;
  }
  if (rec.canonical_len + kHashSuffixLen != line.size()) {
    error = "\"hash\" is not written as the writer writes it";
    return std::nullopt;
  }
  return rec;
}

namespace {

// End of the flat JSON string whose content starts at `from` (index of the closing quote).
std::size_t flat_string_end(std::string_view s, std::size_t from) {
  for (std::size_t i = from; i < s.size(); ++i) {
    if (s[i] == '\\') ++i;
    else if (s[i] == '"') return i;
  }
  return std::string_view::npos;
}

// Locates `,"<key>":"` (string value) or `,"<key>":` after `after`, searching from the end.
std::size_t find_key(std::string_view body, std::string_view pattern, std::size_t after) {
  const std::size_t at = body.rfind(pattern);
  return at == std::string_view::npos || at < after ? std::string_view::npos : at;
}

}  // namespace

std::optional<ScannedRecord> scan_record_fast(std::string_view line) {
  constexpr std::string_view kHashKey = ",\"hash\":\"";
  constexpr std::string_view kDecision = "{\"decision\":\"";
  if (line.size() < kHashSuffixLen + 64 || line.substr(0, kDecision.size()) != kDecision) return std::nullopt;
  ScannedRecord rec;
  rec.canonical_len = line.size() - kHashSuffixLen;
  const std::string_view tail = line.substr(rec.canonical_len);
  if (tail.substr(0, kHashKey.size()) != kHashKey || tail.substr(kHashSuffixLen - 2) != "\"}") return std::nullopt;
  rec.hash = tail.substr(kHashKey.size(), 64);
  const std::string_view body = line.substr(0, rec.canonical_len);
  const std::size_t decision_end = flat_string_end(body, kDecision.size());
  if (decision_end == std::string_view::npos) return std::nullopt;
  rec.decision = body.substr(kDecision.size(), decision_end - kDecision.size());
  constexpr std::string_view kDetail = ",\"detail\":";
  if (body.substr(decision_end + 1, kDetail.size()) != kDetail) return std::nullopt;
  const std::size_t detail_start = decision_end + 1 + kDetail.size();
  // Keys after "detail", in canonical order; each found from the end, each after the previous.
  const std::size_t kind = find_key(body, ",\"kind\":\"", detail_start);
  const std::size_t prev = find_key(body, ",\"prev\":\"", kind);
  const std::size_t reason = find_key(body, ",\"reason\":\"", prev);
  const std::size_t seq = find_key(body, ",\"seq\":", reason);
  const std::size_t ts = find_key(body, ",\"ts\":\"", seq);
  if (kind == std::string_view::npos || prev == std::string_view::npos ||
      reason == std::string_view::npos || seq == std::string_view::npos || ts == std::string_view::npos)
    return std::nullopt;
  rec.detail = body.substr(detail_start, kind - detail_start);
  const std::size_t kind_end = flat_string_end(body, kind + 9);
  if (kind_end == std::string_view::npos || kind_end > prev) return std::nullopt;
  rec.kind = body.substr(kind + 9, kind_end - kind - 9);
  rec.prev = body.substr(prev + 9, 64);
  if (prev + 9 + 64 >= body.size() || body[prev + 9 + 64] != '"') return std::nullopt;
  const std::size_t reason_end = flat_string_end(body, reason + 11);
  if (reason_end == std::string_view::npos || reason_end > seq) return std::nullopt;
  rec.reason = body.substr(reason + 11, reason_end - reason - 11);
  const std::size_t seq_end = body.find(',', seq + 7);
  if (seq_end == std::string_view::npos || !parse_u64(body.substr(seq + 7, seq_end - seq - 7), rec.seq))
    return std::nullopt;
  const std::size_t ts_end = flat_string_end(body, ts + 7);
  if (ts_end == std::string_view::npos || ts_end + 1 != body.size()) return std::nullopt;
  rec.ts = body.substr(ts + 7, ts_end - ts - 7);
  if (rec.kind.empty() || rec.ts.empty() || !is_lower_hex64(rec.hash) || !is_lower_hex64(rec.prev))
    return std::nullopt;
  return rec;
}

bool recompute_hash(std::string_view line, const ScannedRecord& record, HashBytes& out) {
  HashBytes prev{};
  if (!from_hex(record.prev, prev.data(), prev.size())) return false;
  out = hash_parts(prev.data(), prev.size(), line.substr(0, record.canonical_len), "}");
  return true;
}

}  // namespace sallyport::audit

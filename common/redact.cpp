#include "common/redact.hpp"

#include <re2/re2.h>

#include <array>
#include <memory>

namespace sallyport {
namespace {

struct RedactionRule {
  std::unique_ptr<RE2> pattern;
  const char* replacement;
};

// Order matters: whole blocks (PEM) and prefixed forms (Bearer, sk-ant-) before the generic ones.
const std::array<RedactionRule, 10>& rules() {
  static const auto* compiled = [] {
    RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_dot_nl(true);
    auto make = [&](const char* re, const char* repl) {
      return RedactionRule{std::make_unique<RE2>(re, opts), repl};
    };
    return new std::array<RedactionRule, 10>{
        make(R"(-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$))",
             "[REDACTED PEM]"),
        make(R"((?i)\b(bearer|basic|digest)(\s+)[A-Za-z0-9._~+/=:-]{4,})", "\\1\\2[REDACTED]"),
        make(R"(\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*)", "[REDACTED JWT]"),
        make(R"(\bsk-ant-[A-Za-z0-9_-]{8,})", "sk-ant-[REDACTED]"),
        make(R"(\bsk-[A-Za-z0-9_-]{12,})", "sk-[REDACTED]"),
        make(R"(\bAKIA[0-9A-Z]{16}\b)", "[REDACTED AWS KEY]"),
        make(R"(\bAIza[0-9A-Za-z_-]{35}\b)", "[REDACTED GOOGLE KEY]"),
        make(R"((?i)\b((?:x-)?api[-_]?key|ocp-apim-subscription-key|access[-_]?token|auth[-_]?token|)"
             R"(client[-_]?secret|secret|password|passwd|token)(["']?\s*[:=]\s*["']?)[^\s"',;&}]{4,})",
             "\\1\\2[REDACTED]"),
        // Azure OpenAI keys: 32 hex (classic) or 84 base62 (current) standing alone.
        make(R"(\b[0-9a-fA-F]{32}\b)", "[REDACTED KEY]"),
        make(R"(\b[A-Za-z0-9]{84}\b)", "[REDACTED KEY]"),
    };
  }();
  return *compiled;
}

std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c >= 0xE0 && c <= 0xEF) len = 3;
  else if (c >= 0xF0 && c <= 0xF4) len = 4;
  else return 0;
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  // Reject C1 controls encoded as U+0080..U+009F.
  if (len == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0) return 0;
  return len;
}

}  // namespace

// One pass over the text that says whether any rule could fire. Log lines are written on every
// request and almost never hold a secret, so the per-rule rewrites run only when needed.
static const RE2& any_secret() {
  static const auto* combined = [] {
    std::string alternation;
    for (const auto& rule : rules()) {
      if (!alternation.empty()) alternation += '|';
      alternation += "(?:" + rule.pattern->pattern() + ")";
    }
    RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_dot_nl(true);
    opts.set_never_capture(true);
    return new RE2(alternation, opts);
  }();
  return *combined;
}

std::string redact_secrets(std::string_view text) {
  std::string out(text);
  if (!RE2::PartialMatch(out, any_secret())) return out;
  for (const auto& rule : rules()) {
    RE2::GlobalReplace(&out, *rule.pattern, rule.replacement);
  }
  return out;
}

std::string escape_untrusted(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\r') { out += "\\r"; ++i; continue; }
    if (c == '\n') { out += "\\n"; ++i; continue; }
    if (c == '\t') { out += "\\t"; ++i; continue; }
    if (c >= 0x20 && c < 0x7F) { out.push_back(static_cast<char>(c)); ++i; continue; }
    if (c >= 0x80) {
      if (const auto len = utf8_sequence_length(text, i); len != 0) {
        out.append(text.substr(i, len));
        i += len;
        continue;
      }
    }
    out += "\\x";
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
    ++i;
  }
  return out;
}

std::string sanitize_for_log(std::string_view text) { return escape_untrusted(redact_secrets(text)); }

}  // namespace sallyport

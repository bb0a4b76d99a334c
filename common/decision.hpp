#pragma once
// The one decision type that flows unchanged from blocklist/ and governance/ to router/, the
// audit log and metrics (see shared/STYLE.md: egress decisions are data).
#include <cstdint>
#include <string>
#include <utility>

namespace sallyport {

enum class Verdict : std::uint8_t { allow, deny };

struct Decision {
  Verdict verdict = Verdict::allow;
  // Closed, documented set such as "blocklist:oisd", "tld:high-risk", "ip:metadata",
  // "allowlist", "default". Safe to use as a metric label.
  std::string reason;
  // What matched: a feed entry ("evil.com"), a CIDR ("169.254.0.0/16"), a policy rule name.
  std::string rule;
  // Human-readable context; may hold untrusted text, which the logger escapes.
  std::string detail;

  [[nodiscard]] bool allowed() const noexcept { return verdict == Verdict::allow; }

  static Decision allow(std::string reason, std::string rule = {}, std::string detail = {}) {
    return Decision{Verdict::allow, std::move(reason), std::move(rule), std::move(detail)};
  }
  static Decision deny(std::string reason, std::string rule = {}, std::string detail = {}) {
    return Decision{Verdict::deny, std::move(reason), std::move(rule), std::move(detail)};
  }
};

inline const char* to_string(Verdict v) noexcept { return v == Verdict::allow ? "allow" : "deny"; }

}  // namespace sallyport

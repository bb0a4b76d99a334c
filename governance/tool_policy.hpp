#pragma once
// Tool policy: which tools (functions) an agent may see and call. An immutable, compiled snapshot
// of the policy file (DESIGN.md "Config shape"), evaluated on every tool in a request and every
// tool call in a response. Snapshots are shared as shared_ptr<const ToolPolicy> and swapped
// atomically on reload (ToolPolicyStore), so evaluation never takes a lock.
//
// File format (strict: unknown keys, wrong types, bad regexes, duplicate rule names and
// out-of-range values are errors; every error is reported with its JSON pointer):
//   {"version": 1,
//    "default": "allow" | "deny",
//    "rules": [{"name": "no-shell",                      required, [A-Za-z0-9_.:-]{1,128}
//               "tool": "shell" | "fs_*" | "re:^(exec|run)_.*$",   required
//               "args": "curl|wget|\\bnc\\b",              optional RE2
//               "action": "allow" | "deny" | "require_approval" | "log",   required
//               "min_trust": 600}],                       optional integer 0..1000
//    "profiles": {"strict": {"default": "deny", "rules": [...]}},   optional
//    "profile": "strict"}                                  optional, selects the active profile
// The top-level "default"/"rules" form the profile named "default". "profile" (or the loader's
// profile override, e.g. from config `policy.profile` or `policy test --profile`) picks the
// active one; every profile is validated either way.
//
// Tool patterns: "re:<RE2>" is an unanchored RE2 search over the tool name (anchor it yourself);
// a pattern containing '*' (any run of characters) or '?' (one character) is a glob over the
// whole name; anything else is an exact, case-sensitive name.
// "args" is an unanchored RE2 search over the call's arguments in canonical form: when the
// arguments string is valid JSON it is re-serialised compactly (no whitespace, \uXXXX escapes
// decoded), so `"command":"curl` matches however the model spaced or escaped it; otherwise the
// raw string is searched.
//
// Evaluation order (written down once, here):
//   1. rules in file order; the first rule whose tool pattern matches, and whose args pattern
//      (if any) matches, wins;
//   2. no match -> the profile's default, rule name "default";
//   3. if the winning rule has min_trust and the agent's trust score is known and below
//      max(min_trust, trust_threshold), the result is deny "trust:below-threshold" (the rule
//      named is the one that required the trust).
// Reasons: "tool:allowed", "tool:logged" (log = allow + record), "tool:denied",
// "tool:approval-required" (verdict deny, so a caller that ignores approvals fails closed),
// "trust:below-threshold". Decision::rule is always the rule name (or "default").
#include <atomic>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/decision.hpp"

namespace re2 {
class RE2;
}

namespace sallyport::governance {

enum class ToolAction : unsigned char { allow, deny, require_approval, log };
const char* to_string(ToolAction action) noexcept;

// Fixed reason strings (safe as metric labels).
namespace tool_reason {
inline constexpr const char* allowed = "tool:allowed";
inline constexpr const char* logged = "tool:logged";
inline constexpr const char* denied = "tool:denied";
inline constexpr const char* approval_required = "tool:approval-required";
inline constexpr const char* trust_below_threshold = "trust:below-threshold";
}  // namespace tool_reason

// One problem found while loading. `pointer` is an RFC 6901 JSON pointer ("" = the document or
// the file itself).
struct PolicyError {
  std::string pointer;
  std::string message;
  // "/rules/2/action: expected one of allow, deny, require_approval, log"
  [[nodiscard]] std::string to_string() const;
};

// The trust context of one evaluation. `score` unset means trust scoring is not in use: min_trust
// is then not applied. `threshold` is the trust config's threshold (default 500): below it every
// rule with min_trust denies, whatever its min_trust.
struct TrustInput {
  std::optional<int> score;
  int threshold = 0;
};

struct ToolPolicyRule;  // compiled rule, defined in tool_policy.cpp

class ToolPolicy {
 public:
  // What evaluate() decided, plus the action of the winning rule (for audit/approvals).
  struct Evaluation {
    Decision decision;
    ToolAction action = ToolAction::allow;  // of the winning rule or the default
  };

  // Full decision for one call with its arguments (a JSON text; may be empty or invalid).
  [[nodiscard]] Evaluation evaluate(std::string_view tool, std::string_view args_json,
                                    const TrustInput& trust = {}) const;

  // For request stripping, where no arguments exist yet: true when every possible arguments
  // string leads to deny (approval-required tools are kept: the call is decided later).
  [[nodiscard]] bool always_denied(std::string_view tool, const TrustInput& trust = {}) const;

  [[nodiscard]] const std::string& active_profile() const noexcept { return active_name_; }
  [[nodiscard]] std::vector<std::string> profile_names() const;
  [[nodiscard]] std::size_t rule_count() const noexcept;  // of the active profile
  [[nodiscard]] ToolAction default_action() const noexcept;

  struct Profile;  // defined in tool_policy.cpp
  ToolPolicy(std::map<std::string, std::shared_ptr<const Profile>> profiles,
             std::string active_name);
  ~ToolPolicy();

 private:
  std::map<std::string, std::shared_ptr<const Profile>> profiles_;
  std::string active_name_;
  const Profile* active_ = nullptr;
};

struct ToolPolicyLoadOptions {
  std::optional<std::string> profile;          // overrides the file's "profile"
  std::size_t max_file_bytes = 1024 * 1024;    // files larger than this are refused
};

// Either a compiled policy or every error found (never both).
struct ToolPolicyLoadResult {
  std::shared_ptr<const ToolPolicy> policy;
  std::vector<PolicyError> errors;
  [[nodiscard]] bool ok() const noexcept { return policy != nullptr; }
};

// The arguments text the "args" pattern sees: compact re-serialisation when `args_json` is valid
// JSON ("" -> ""), the raw text otherwise.
std::string canonical_tool_args(std::string_view args_json);

// Parses and compiles policy text. Never throws on bad input.
ToolPolicyLoadResult parse_tool_policy(std::string_view json_text,
                                       const ToolPolicyLoadOptions& options = {});

// Reads the file TOCTOU-safely (open O_NOFOLLOW|O_CLOEXEC, fstat on that fd: regular file, size
// limit; read from the same fd), then parse_tool_policy. File errors have pointer "".
ToolPolicyLoadResult load_tool_policy_file(const std::string& path,
                                           const ToolPolicyLoadOptions& options = {});

// Holds the live snapshot for hot reload: readers call current() on every request; reload()
// swaps in a new snapshot only when it loads cleanly (the last good policy stays otherwise).
class ToolPolicyStore {
 public:
  explicit ToolPolicyStore(std::shared_ptr<const ToolPolicy> initial);
  [[nodiscard]] std::shared_ptr<const ToolPolicy> current() const;
  void replace(std::shared_ptr<const ToolPolicy> next);
  // Returns the errors (empty on success, when the new snapshot is live).
  std::vector<PolicyError> reload(const std::string& path, const ToolPolicyLoadOptions& options = {});

 private:
  std::atomic<std::shared_ptr<const ToolPolicy>> current_;
};

}  // namespace sallyport::governance

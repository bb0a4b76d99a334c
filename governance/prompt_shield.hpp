#pragma once
// Local prompt shield: an RE2::Set of jailbreak / prompt-injection patterns run over the text
// the agent's user and tool messages carry (where injected instructions arrive).
//
// Scanned (request JSON, already parsed):
//   OpenAI/Azure chat: messages[] with role user | tool | function; content a string or an
//     array of parts (type "text" → text, also "input_text").
//   OpenAI responses:  input as a string, or input[] items with role user (content string or
//     parts with "input_text"/"text"), and function_call_output items (output).
//   Anthropic:         messages[] with role user; content a string or blocks: "text" → text,
//     "tool_result" → content string or its "text" blocks.
// System / developer / assistant text is the agent's own configuration and is not scanned.
//
// Patterns: RE2 syntax, matched case-insensitively, unanchored, longest-match off. Pattern
// files hold one pattern per line; blank lines and lines starting with '#' are ignored; a line
// may name its pattern as `id: pattern` (id = [A-Za-z0-9_.-]+ followed by ": "), otherwise the
// id is "<source>:<line>". The default set (config/shields/default.txt) is compiled into the
// binary (default_shield_patterns_text()); user patterns (safety.prompt_shield.patterns) extend
// it.
//
// Modes (safety.prompt_shield.mode): off | observe | enforce.
//   enforce + match → deny   "shield:jailbreak", rule = first matching pattern's id
//   observe + match → allow  "shield:jailbreak" (what enforce would have denied: record it)
//   no match / off  → allow  "shield:pass"
// Decision::detail names where it matched (e.g. "messages[3]"), never the message text.
// Immutable after compile(); scan() is const and thread-safe.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/decision.hpp"
#include "governance/api_error.hpp"

namespace sallyport::governance {

enum class ShieldMode : std::uint8_t { off, observe, enforce };
std::optional<ShieldMode> parse_shield_mode(std::string_view text);  // "off"|"observe"|"enforce"

struct ShieldPattern {
  std::string id;
  std::string pattern;
};

struct ShieldPatternsResult {
  std::vector<ShieldPattern> patterns;
  std::string error;  // "<source>:<line>: …" on the first malformed line; patterns then empty
};

// Parses pattern-file text (see format above). Only checks the line format; RE2 syntax is
// checked by PromptShield::compile.
ShieldPatternsResult parse_shield_patterns(std::string_view text, std::string_view source);

// The maintained default set, identical to config/shields/default.txt (a unit test checks it).
std::string_view default_shield_patterns_text();

class PromptShield;

struct PromptShieldResult {
  std::shared_ptr<const PromptShield> shield;
  std::string error;  // set when shield is null: the pattern id and RE2's message
};

struct ShieldScan {
  Decision decision;
  std::vector<std::string> matched_ids;  // every pattern that matched, in set order
};

class PromptShield {
 public:
  // Compiles patterns into one RE2::Set. An invalid pattern fails the whole compile (startup
  // or config reload error), naming the pattern id.
  static PromptShieldResult compile(std::vector<ShieldPattern> patterns, ShieldMode mode);
  // Default set + `extra` (user patterns).
  static PromptShieldResult compile_default(ShieldMode mode, std::vector<ShieldPattern> extra = {});

  ~PromptShield();
  PromptShield(const PromptShield&) = delete;
  PromptShield& operator=(const PromptShield&) = delete;

  [[nodiscard]] ShieldScan scan_request(const nlohmann::json& body, ApiFlavor flavor) const;
  // Ids of patterns matching one text (no mode applied).
  [[nodiscard]] std::vector<std::string> match_text(std::string_view text) const;

  [[nodiscard]] ShieldMode mode() const noexcept { return mode_; }
  [[nodiscard]] std::size_t pattern_count() const noexcept { return patterns_.size(); }

 private:
  PromptShield(std::vector<ShieldPattern> patterns, ShieldMode mode);

  std::vector<ShieldPattern> patterns_;
  ShieldMode mode_;
  struct CompiledSet;  // wraps RE2::Set (a nested class, so it cannot be forward-declared)
  std::unique_ptr<CompiledSet> set_;
};

}  // namespace sallyport::governance

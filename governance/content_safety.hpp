#pragma once
// Azure OpenAI content-filter annotations → findings → one Decision.
//
// Reads, from a non-streamed response body OR any single streamed chunk (call it for EVERY
// chunk — a later chunk may carry a worse annotation than the first):
//   prompt_filter_results[] (and the older prompt_annotations[]): {prompt_index,
//     content_filter_results}
//   choices[].content_filter_results
//   error.innererror.content_filter_result (Azure's 400 with error.code "content_filter")
// Each content_filter_results object may hold:
//   hate, sexual, violence, self_harm: {filtered, severity: safe|low|medium|high}
//   jailbreak, indirect_attack:        {filtered, detected}
//   protected_material_text, protected_material_code, profanity: {filtered, detected}
//
// Evaluation order (first hit wins, fixed):
//   1. jailbreak / indirect_attack detected and policy.block_detected_attacks
//        → deny "shield:jailbreak", rule "jailbreak" | "indirect_attack"
//   2. the highest severity among hate/sexual/violence/self_harm at or above policy.floor
//        → deny "safety:floor", rule "<category>:<severity>" (e.g. "violence:medium")
//   3. protected material detected and policy.block_protected_material
//        → deny "safety:protected-material", rule "protected_material_text"|"…_code"
//   4. Azure refused the request itself (400 content_filter) although 1–3 did not fire
//        → deny "safety:upstream-filter", rule = error.code
//   otherwise allow "safety:pass" (findings may still be non-empty: record them).
// Severity order: safe < low < medium < high. Unknown severity strings count as high
// (fail closed); malformed annotation objects are skipped, never fatal.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/decision.hpp"

namespace sallyport::governance {

enum class Severity : std::uint8_t { safe = 0, low = 1, medium = 2, high = 3 };

std::optional<Severity> parse_severity(std::string_view text);  // "safe"|"low"|"medium"|"high"
const char* to_string(Severity severity) noexcept;

// Config: safety {floor, …}; prompt_shield.mode == "enforce" sets block_detected_attacks.
struct SafetyPolicy {
  Severity floor = Severity::high;  // safety.floor
  bool block_detected_attacks = true;
  bool block_protected_material = false;
};

struct SafetyFinding {
  std::string where;     // "prompt[0]", "choice[1]", "error"
  std::string category;  // "hate", "jailbreak", "protected_material_code", …
  bool filtered = false;                 // Azure already filtered the content
  std::optional<Severity> severity;      // severity categories
  std::optional<bool> detected;          // detection categories
};

struct SafetyReport {
  Decision decision;                   // see evaluation order above
  std::vector<SafetyFinding> findings;  // every annotation seen (for audit / metrics)
  bool upstream_content_filter_error = false;  // body was Azure's content_filter error
};

SafetyReport evaluate_content_safety(const nlohmann::json& body_or_chunk,
                                     const SafetyPolicy& policy);

}  // namespace sallyport::governance

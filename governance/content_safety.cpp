#include "governance/content_safety.hpp"

#include <array>

namespace sallyport::governance {

using nlohmann::json;

namespace {

constexpr std::array<std::string_view, 4> kSeverityCategories = {"hate", "sexual", "violence",
                                                                  "self_harm"};
constexpr std::array<std::string_view, 2> kAttackCategories = {"jailbreak", "indirect_attack"};
constexpr std::array<std::string_view, 3> kDetectionCategories = {
    "protected_material_text", "protected_material_code", "profanity"};

const json* member(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

bool read_bool(const json& object, std::string_view key) {
  const json* value = member(object, key);
  return value != nullptr && value->is_boolean() && value->get<bool>();
}

// Reads one content_filter_results object into findings.
void collect(const json& results, const std::string& where, std::vector<SafetyFinding>& out) {
  if (!results.is_object()) return;
  for (std::string_view category : kSeverityCategories) {
    const json* entry = member(results, category);
    if (entry == nullptr || !entry->is_object()) continue;
    SafetyFinding finding{where, std::string(category), read_bool(*entry, "filtered"), {}, {}};
    if (const json* severity = member(*entry, "severity");
        severity != nullptr && severity->is_string()) {
      // Unknown severity names fail closed (treated as high).
      finding.severity =
          parse_severity(severity->get_ref<const std::string&>()).value_or(Severity::high);
    } else if (finding.filtered) {
      finding.severity = Severity::high;  // filtered without a severity: assume the worst
    }
    out.push_back(std::move(finding));
  }
  const auto collect_detections = [&](const auto& categories) {
    for (std::string_view category : categories) {
      const json* entry = member(results, category);
      if (entry == nullptr || !entry->is_object()) continue;
      out.push_back(SafetyFinding{where, std::string(category), read_bool(*entry, "filtered"),
                                  std::nullopt, read_bool(*entry, "detected")});
    }
  };
  collect_detections(kAttackCategories);
  collect_detections(kDetectionCategories);
}

void collect_prompt_results(const json& body, std::string_view key,
                            std::vector<SafetyFinding>& out) {
  const json* list = member(body, key);
  if (list == nullptr || !list->is_array()) return;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& entry = (*list)[i];
    std::size_t index = i;
    if (const json* p = member(entry, "prompt_index"); p != nullptr && p->is_number_unsigned()) {
      index = p->get<std::size_t>();
    }
    if (const json* results = member(entry, "content_filter_results")) {
      collect(*results, "prompt[" + std::to_string(index) + "]", out);
    }
  }
}

bool contains(std::string_view needle, const auto& list) {
  for (std::string_view item : list) {
    if (item == needle) return true;
  }
  return false;
}

Decision decide(const std::vector<SafetyFinding>& findings, const SafetyPolicy& policy,
                const std::string& upstream_error_code) {
  if (policy.block_detected_attacks) {
    for (const auto& f : findings) {
      if (contains(f.category, kAttackCategories) && f.detected.value_or(false)) {
        return Decision::deny("shield:jailbreak", f.category, "Azure prompt shield at " + f.where);
      }
    }
  }
  const SafetyFinding* worst = nullptr;
  for (const auto& f : findings) {
    if (f.severity && *f.severity >= policy.floor && (worst == nullptr || *f.severity > *worst->severity)) {
      worst = &f;
    }
  }
  if (worst != nullptr) {
    return Decision::deny("safety:floor", worst->category + ":" + to_string(*worst->severity),
                          "content filter severity at or above floor " +
                              std::string(to_string(policy.floor)) + " at " + worst->where);
  }
  if (policy.block_protected_material) {
    for (const auto& f : findings) {
      if (f.category.starts_with("protected_material_") && f.detected.value_or(false)) {
        return Decision::deny("safety:protected-material", f.category, "at " + f.where);
      }
    }
  }
  if (!upstream_error_code.empty()) {
    return Decision::deny("safety:upstream-filter", upstream_error_code,
                          "the provider refused the request with a content filter error");
  }
  return Decision::allow("safety:pass");
}

}  // namespace

std::optional<Severity> parse_severity(std::string_view text) {
  if (text == "safe") return Severity::safe;
  if (text == "low") return Severity::low;
  if (text == "medium") return Severity::medium;
  if (text == "high") return Severity::high;
  return std::nullopt;
}

const char* to_string(Severity severity) noexcept {
  switch (severity) {
    case Severity::safe: return "safe";
    case Severity::low: return "low";
    case Severity::medium: return "medium";
    case Severity::high: return "high";
  }
  return "high";
}

SafetyReport evaluate_content_safety(const json& body, const SafetyPolicy& policy) {
  SafetyReport report;
  collect_prompt_results(body, "prompt_filter_results", report.findings);
  collect_prompt_results(body, "prompt_annotations", report.findings);
  if (const json* choices = member(body, "choices"); choices != nullptr && choices->is_array()) {
    for (std::size_t i = 0; i < choices->size(); ++i) {
      const json& choice = (*choices)[i];
      std::size_t index = i;
      if (const json* idx = member(choice, "index"); idx != nullptr && idx->is_number_unsigned()) {
        index = idx->get<std::size_t>();
      }
      if (const json* results = member(choice, "content_filter_results")) {
        collect(*results, "choice[" + std::to_string(index) + "]", report.findings);
      }
    }
  }
  std::string upstream_error_code;
  if (const json* error = member(body, "error")) {
    const json* code = member(*error, "code");
    if (code != nullptr && code->is_string() && code->get_ref<const std::string&>() == "content_filter") {
      report.upstream_content_filter_error = true;
      upstream_error_code = "content_filter";
      if (const json* inner = member(*error, "innererror")) {
        if (const json* results = member(*inner, "content_filter_result")) {
          collect(*results, "error", report.findings);
        }
      }
    }
  }
  report.decision = decide(report.findings, policy, upstream_error_code);
  return report;
}

}  // namespace sallyport::governance

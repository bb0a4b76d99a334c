// Evaluation of a compiled tool policy snapshot, and the hot-reload holder.
// The evaluation order is documented once, in tool_policy.hpp.
#include "governance/tool_policy.hpp"

#include "common/glob.hpp"

#include <algorithm>
#include <utility>

#include <nlohmann/json.hpp>

#include "governance/tool_policy_internal.hpp"

namespace sallyport::governance {

const char* to_string(ToolAction action) noexcept {
  switch (action) {
    case ToolAction::allow: return "allow";
    case ToolAction::deny: return "deny";
    case ToolAction::require_approval: return "require_approval";
    case ToolAction::log: return "log";
  }
  return "deny";
}

std::string PolicyError::to_string() const {
  if (pointer.empty()) return message;
  return pointer + ": " + message;
}

bool ToolPattern::matches(std::string_view tool) const {
  switch (kind) {
    case Kind::exact: return tool == text;
    case Kind::glob: return glob_match(text, tool);
    case Kind::regex: return re2::RE2::PartialMatch(tool, *regex);
  }
  return false;
}

std::string canonical_tool_args(std::string_view args_json) {
  if (args_json.empty()) return {};
  auto parsed = nlohmann::json::parse(args_json, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return std::string(args_json);
  // `replace` keeps invalid UTF-8 from throwing; the pattern then sees U+FFFD.
  return parsed.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ToolPolicy::ToolPolicy(std::map<std::string, std::shared_ptr<const Profile>> profiles,
                       std::string active_name)
    : profiles_(std::move(profiles)), active_name_(std::move(active_name)) {
  active_ = profiles_.at(active_name_).get();
}

ToolPolicy::~ToolPolicy() = default;

std::vector<std::string> ToolPolicy::profile_names() const {
  std::vector<std::string> names;
  names.reserve(profiles_.size());
  for (const auto& entry : profiles_) names.push_back(entry.first);
  return names;
}

std::size_t ToolPolicy::rule_count() const noexcept { return active_->rules.size(); }

ToolAction ToolPolicy::default_action() const noexcept { return active_->default_action; }

namespace {

bool below_trust(const std::optional<int>& min_trust, const TrustInput& trust) {
  if (!min_trust || !trust.score) return false;
  return *trust.score < std::max(*min_trust, trust.threshold);
}

ToolPolicy::Evaluation decide(ToolAction action, const std::string& rule,
                              const std::optional<int>& min_trust, const TrustInput& trust) {
  if (action != ToolAction::deny && below_trust(min_trust, trust)) {
    std::string detail = "trust " + std::to_string(*trust.score) + " < required " +
                         std::to_string(std::max(*min_trust, trust.threshold));
    return {Decision::deny(tool_reason::trust_below_threshold, rule, std::move(detail)), action};
  }
  switch (action) {
    case ToolAction::allow: return {Decision::allow(tool_reason::allowed, rule), action};
    case ToolAction::log: return {Decision::allow(tool_reason::logged, rule), action};
    case ToolAction::require_approval:
      return {Decision::deny(tool_reason::approval_required, rule), action};
    case ToolAction::deny: break;
  }
  return {Decision::deny(tool_reason::denied, rule), ToolAction::deny};
}

}  // namespace

ToolPolicy::Evaluation ToolPolicy::evaluate(std::string_view tool, std::string_view args_json,
                                            const TrustInput& trust) const {
  std::string canonical_args;
  bool args_ready = false;
  for (const ToolPolicyRule& rule : active_->rules) {
    if (!rule.tool.matches(tool)) continue;
    if (rule.args) {
      if (!args_ready) {
        canonical_args = canonical_tool_args(args_json);
        args_ready = true;
      }
      if (!re2::RE2::PartialMatch(canonical_args, *rule.args)) continue;
    }
    return decide(rule.action, rule.name, rule.min_trust, trust);
  }
  return decide(active_->default_action, "default", std::nullopt, trust);
}

bool ToolPolicy::always_denied(std::string_view tool, const TrustInput& trust) const {
  for (const ToolPolicyRule& rule : active_->rules) {
    if (!rule.tool.matches(tool)) continue;
    const bool denies =
        rule.action == ToolAction::deny || below_trust(rule.min_trust, trust);
    // A rule without an args pattern decides for every call. With one, only a deny lets us
    // look further (calls whose args do not match fall through to later rules).
    if (!rule.args || !denies) return denies;
  }
  return active_->default_action == ToolAction::deny;
}

ToolPolicyStore::ToolPolicyStore(std::shared_ptr<const ToolPolicy> initial)
    : current_(std::move(initial)) {}

std::shared_ptr<const ToolPolicy> ToolPolicyStore::current() const {
  return current_.load(std::memory_order_acquire);
}

void ToolPolicyStore::replace(std::shared_ptr<const ToolPolicy> next) {
  current_.store(std::move(next), std::memory_order_release);
}

std::vector<PolicyError> ToolPolicyStore::reload(const std::string& path,
                                                 const ToolPolicyLoadOptions& options) {
  ToolPolicyLoadResult loaded = load_tool_policy_file(path, options);
  if (loaded.ok()) replace(std::move(loaded.policy));
  return std::move(loaded.errors);
}

}  // namespace sallyport::governance

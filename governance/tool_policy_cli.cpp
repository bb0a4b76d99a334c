// `policy check` / `policy test` subcommand bodies (see tool_policy_cli.hpp).
#include "governance/tool_policy_cli.hpp"

#include <nlohmann/json.hpp>

#include "common/redact.hpp"
#include "governance/tool_policy.hpp"

namespace sallyport::governance {
namespace {

ToolPolicyLoadResult load(const std::string& file, const std::optional<std::string>& profile) {
  ToolPolicyLoadOptions options;
  options.profile = profile;
  return load_tool_policy_file(file, options);
}

void print_errors(const std::string& file, const std::vector<PolicyError>& errors,
                  std::ostream& out) {
  for (const PolicyError& error : errors) {
    // File-level errors already start with the path.
    const std::string line = error.pointer.empty() && error.message.starts_with(file + ": ")
                                 ? error.message
                                 : file + ": " + error.to_string();
    out << escape_untrusted(line) << '\n';
  }
}

}  // namespace

int run_policy_check(const std::string& file, std::ostream& out,
                     const std::optional<std::string>& profile) {
  ToolPolicyLoadResult loaded = load(file, profile);
  if (!loaded.ok()) {
    print_errors(file, loaded.errors, out);
    out << loaded.errors.size() << (loaded.errors.size() == 1 ? " error" : " errors") << '\n';
    return 1;
  }
  std::string names;
  for (const auto& name : loaded.policy->profile_names()) names += (names.empty() ? "" : ", ") + name;
  out << "OK: " << escape_untrusted(file) << ": profile '" << loaded.policy->active_profile()
      << "' active, " << loaded.policy->rule_count() << " rules, default "
      << to_string(loaded.policy->default_action()) << " (profiles: " << names << ")\n";
  return 0;
}

int run_policy_test(const std::string& file, const std::string& tool, const std::string& args_json,
                    std::optional<int> trust, std::ostream& out,
                    const std::optional<std::string>& profile, int trust_threshold) {
  if (!args_json.empty() && nlohmann::json::parse(args_json, nullptr, false).is_discarded()) {
    out << "error: --args is not valid JSON\n";
    return 2;
  }
  ToolPolicyLoadResult loaded = load(file, profile);
  if (!loaded.ok()) {
    print_errors(file, loaded.errors, out);
    return 1;
  }
  const auto result = loaded.policy->evaluate(tool, args_json, TrustInput{trust, trust_threshold});
  out << "decision: " << sallyport::to_string(result.decision.verdict) << '\n'
      << "action: " << to_string(result.action) << '\n'
      << "reason: " << result.decision.reason << '\n'
      << "rule: " << result.decision.rule << '\n';
  if (!result.decision.detail.empty()) out << "detail: " << escape_untrusted(result.decision.detail) << '\n';
  return 0;
}

}  // namespace sallyport::governance

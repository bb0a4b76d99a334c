#pragma once
// Compiled form of the tool policy, shared by the parser (tool_policy_parse.cpp) and the
// evaluator (tool_policy.cpp). Not part of the public API.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <re2/re2.h>

#include "governance/tool_policy.hpp"

namespace sallyport::governance {

struct ToolPattern {
  enum class Kind : unsigned char { exact, glob, regex };
  Kind kind = Kind::exact;
  std::string text;                     // exact name or glob, or the RE2 source without "re:"
  std::shared_ptr<const re2::RE2> regex;  // set for Kind::regex
  [[nodiscard]] bool matches(std::string_view tool) const;
};

struct ToolPolicyRule {
  std::string name;
  ToolPattern tool;
  std::shared_ptr<const re2::RE2> args;  // optional
  ToolAction action = ToolAction::deny;
  std::optional<int> min_trust;
};

struct ToolPolicy::Profile {
  ToolAction default_action = ToolAction::deny;
  std::vector<ToolPolicyRule> rules;
};

}  // namespace sallyport::governance

// Tool policy files: the loader never crashes, rejections carry errors, and a loaded policy
// decides any tool name and argument string with a named rule.
#include "governance/tool_policy.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sallyport::governance;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto r = parse_tool_policy(text);
  if (!r.ok()) {
    if (r.errors.empty()) std::abort();
    return 0;
  }
  const auto split = text.size() / 2;
  const auto e = r.policy->evaluate(text.substr(0, split), text.substr(split), TrustInput{500, 500});
  if (e.decision.rule.empty()) std::abort();
  return 0;
}

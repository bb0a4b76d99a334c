// Upstream JSON bodies (OpenAI, Azure with content filters, Anthropic): usage extraction,
// content-safety evaluation, request facts and tool-call listing never crash on any JSON.
#include "governance/content_safety.hpp"
#include "governance/tool_calls.hpp"
#include "governance/usage.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sallyport::governance;
  auto json = parse_json(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!json) return 0;
  (void)usage_from_response(*json);
  (void)is_usage_only_chunk(*json);
  (void)evaluate_content_safety(*json, SafetyPolicy{});
  for (auto flavor : {ApiFlavor::openai, ApiFlavor::anthropic}) {
    (void)read_request_facts(*json, flavor);
    (void)list_response_tool_calls(*json, flavor);
  }
  (void)estimate_prompt_tokens(*json);
  return 0;
}

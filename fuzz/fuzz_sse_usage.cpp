// SSE from an upstream: the parser takes arbitrary bytes in arbitrary chunks, never crashes,
// and the raw bytes of the events it returns plus the pending tail give back the input.
// Each event's data goes through the stream usage tracker as the gateway would do.
#include "governance/sse.hpp"
#include "governance/usage.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sallyport::governance;
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t step = 1 + data[0] % 17;  // first byte picks the chunk size
  SseParser parser(SseLimits{4096, 65536});
  StreamUsageTracker openai(ApiFlavor::openai), anthropic(ApiFlavor::anthropic);
  std::vector<SseEvent> events;
  bool failed = false;
  for (std::size_t off = 0; off < input.size() && !failed; off += step) {
    failed = parser.feed(input.substr(off, step), events).has_value();
  }
  std::string rebuilt;
  for (const auto& e : events) {
    rebuilt += e.raw;
    openai.observe(e);
    anthropic.observe(e);
  }
  if (!failed) {
    rebuilt += parser.finish().pending_raw;
    if (rebuilt != input) std::abort();
  }
  return 0;
}

// The strict config loader never crashes; a config it accepts survives the masked round trip.
#include "config/loader.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sallyport::config;
  const auto r = parse_config(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  if (r.ok()) {
    const auto again = parse_config(to_masked_json(*r.config).dump(), "round-trip");
    if (!again.ok()) std::abort();
  } else if (r.errors.empty()) {
    std::abort();  // a rejection must say why
  }
  return 0;
}

// Audit lines from a file an attacker may have edited: both scanners never crash, and the fast
// path never accepts a line the precise scanner rejects.
#include "governance/audit_record.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sallyport::audit;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto precise = scan_record(line, error);
  const auto fast = scan_record_fast(line);
  if (fast && !precise) std::abort();
  if (precise) {
    HashBytes hash{};
    (void)recompute_hash(line, *precise, hash);
  }
  return 0;
}

// Audit lines from a file an attacker may have edited: both scanners never crash, and when both
// accept a line they agree on the fields the chain depends on. (The fast path may accept a line
// whose detail is malformed: by design it does not walk detail, and the hash covers its bytes.)
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
  if (fast && precise &&
      (fast->seq != precise->seq || fast->prev != precise->prev || fast->hash != precise->hash ||
       fast->canonical_len != precise->canonical_len)) {
    std::abort();
  }
  if (precise) {
    HashBytes hash{};
    (void)recompute_hash(line, *precise, hash);
  }
  return 0;
}

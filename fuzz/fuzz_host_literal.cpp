// Host normalisation and IP-literal parsing with the full egress policy: any host the agent
// can write gets a decision; an address that parses must round-trip through its canonical form,
// and no spelling of a metadata address may be allowed.
#include "blocklist/egress_policy.hpp"
#include "blocklist/normalize.hpp"
#include "blocklist/policy.hpp"

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

namespace {
const sallyport::blocklist::EgressPolicy& policy() {
  static const auto p = sallyport::blocklist::build_egress_policy({}, {});
  return *p;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sallyport::blocklist;
  const std::string_view host(reinterpret_cast<const char*>(data), size);
  (void)normalize_host(host);
  const HostCheck check = policy().check_host(host);
  if (const auto ip = IpAddress::parse_literal(host)) {
    const auto again = IpAddress::parse_literal(ip->to_string());
    if (!again || !(*again == *ip)) std::abort();
    const auto v4 = ip->embedded_v4();
    if (v4 && v4->to_string() == "169.254.169.254" && check.decision.allowed()) std::abort();
    (void)policy().check_address(*ip);
  }
  return 0;
}

#include "blocklist/normalize.hpp"

#include <idn2.h>

#include <cstdlib>
#include <memory>

namespace sallyport::blocklist {
namespace {

bool is_ldh_or_underscore(char c) {
  // Underscore is not LDH, but real names (_dmarc, CDN labels) and feeds contain it; accepting
  // it on both sides keeps feed entries and request hosts comparable.
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

std::string_view check_labels(std::string_view host) {
  if (host.empty()) return "empty host name";
  if (host.size() > kMaxHostLength) return "host name longer than 253 characters";
  std::size_t label_length = 0;
  for (char c : host) {
    if (c == '.') {
      if (label_length == 0) return "empty label (\"..\" or leading dot)";
      label_length = 0;
      continue;
    }
    if (!is_ldh_or_underscore(c)) return "character not allowed in a host name (expected a-z 0-9 - _ .)";
    if (++label_length > kMaxLabelLength) return "label longer than 63 characters";
  }
  if (label_length == 0) return "empty label (\"..\" or leading dot)";
  return {};
}

// Only non-ASCII input goes through IDNA. ASCII "xn--" labels are kept as DNS sees them: real
// feeds list registered names whose A-label UTS#46 rejects (emoji under .ws), and dropping them
// would let exactly those hosts through.
bool needs_idna(std::string_view host) {
  for (char c : host) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

std::string_view to_a_label(std::string_view host, std::string& out) {
  for (char c : host) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return "control character in host name";
  }
  const std::string input(host);  // libidn2 wants a NUL-terminated string
  char* converted = nullptr;
  const int rc = idn2_to_ascii_8z(input.c_str(), &converted, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
  std::unique_ptr<char, decltype(&std::free)> owner(converted, &std::free);
  if (rc != IDN2_OK || converted == nullptr) return "not a valid internationalised host name (IDNA UTS#46)";
  out.assign(converted);
  return {};
}

}  // namespace

std::string_view normalize_host_into(std::string_view host, std::string& out) {
  out.clear();
  if (host.size() > 4 * kMaxHostLength) return "host name longer than 253 characters";
  const bool had_trailing_dot = !host.empty() && host.back() == '.';
  if (had_trailing_dot) host.remove_suffix(1);
  if (needs_idna(host)) {
    if (auto error = to_a_label(host, out); !error.empty()) return error;
    // A trailing "。" maps to "."; still only one trailing dot is stripped in total.
    if (!had_trailing_dot && !out.empty() && out.back() == '.') out.pop_back();
  } else {
    out.assign(host);
  }
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  }
  return check_labels(out);
}

NormalizedHost normalize_host(std::string_view host) {
  NormalizedHost result;
  result.error = normalize_host_into(host, result.host);
  if (!result.ok()) result.host.clear();
  return result;
}

}  // namespace sallyport::blocklist

#include "governance/canonical_json.hpp"

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace sallyport::audit {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is invalid (overlong forms,
// surrogates and code points above U+10FFFF are invalid, per RFC 3629).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  const auto b1 = static_cast<unsigned char>(s[i + 1]);
  if (b1 < lo || b1 > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < 0x80 || b > 0xBF) return 0;
  }
  return len;
}

void append_number(std::string& out, const nlohmann::json& value) {
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (!std::isfinite(d)) {
      out += "null";
      return;
    }
  }
  out += value.dump();  // integers: plain decimal; floats: shortest round-trip
}

}  // namespace

bool append_canonical_string(std::string& out, std::string_view text, InvalidUtf8 mode) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      // Fast path: copy the run of plain ASCII in one go.
      std::size_t j = i + 1;
      while (j < text.size()) {
        const auto d = static_cast<unsigned char>(text[j]);
        if (d < 0x20 || d >= 0x80 || d == '"' || d == '\\') break;
        ++j;
      }
      out.append(text.data() + i, j - i);
      i = j;
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; ++i; continue;
      case '\\': out += "\\\\"; ++i; continue;
      case '\b': out += "\\b"; ++i; continue;
      case '\f': out += "\\f"; ++i; continue;
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      default: break;
    }
    if (c < 0x20) {
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
      ++i;
      continue;
    }
    const std::size_t len = utf8_sequence_length(text, i);
    if (len == 0) {
      if (mode == InvalidUtf8::reject) return false;
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
      continue;
    }
    out.append(text.data() + i, len);
    i += len;
  }
  out.push_back('"');
  return true;
}

bool append_canonical_json(std::string& out, const nlohmann::json& value, InvalidUtf8 mode) {
  using T = nlohmann::json::value_t;
  switch (value.type()) {
    case T::null:
    case T::discarded: out += "null"; return true;
    case T::boolean: out += value.get<bool>() ? "true" : "false"; return true;
    case T::number_integer:
    case T::number_unsigned:
    case T::number_float: append_number(out, value); return true;
    case T::string: return append_canonical_string(out, value.get_ref<const std::string&>(), mode);
    case T::binary: out += "null"; return true;  // not JSON; never produced by our callers
    case T::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& element : value) {
        if (!first) out.push_back(',');
        first = false;
        if (!append_canonical_json(out, element, mode)) return false;
      }
      out.push_back(']');
      return true;
    }
    case T::object: {
      // nlohmann's object_t is a std::map<std::string, …>: iteration is already in byte order
      // (char_traits<char>::compare compares as unsigned char).
      out.push_back('{');
      bool first = true;
      for (const auto& [key, element] : value.items()) {
        if (!first) out.push_back(',');
        first = false;
        if (!append_canonical_string(out, key, mode)) return false;
        out.push_back(':');
        if (!append_canonical_json(out, element, mode)) return false;
      }
      out.push_back('}');
      return true;
    }
  }
  return true;
}

std::string canonical_json(const nlohmann::json& value) {
  std::string out;
  append_canonical_json(out, value, InvalidUtf8::replace);
  return out;
}

}  // namespace sallyport::audit

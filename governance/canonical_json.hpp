#pragma once
// Canonical JSON for hashing audit records: object keys sorted by UTF-8 byte order, no
// insignificant whitespace, strings as UTF-8 with only the mandatory escapes (`"`, `\`, and
// control characters below 0x20: \b \f \n \r \t short forms, others as \u00xx in lower-case hex).
// Integers are written in decimal; floats use nlohmann's shortest round-trip form (audit records
// should avoid floats). NaN/Inf are not representable and are written as null.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace sallyport::audit {

enum class InvalidUtf8 : unsigned char {
  reject,   // canonical_json() fails (returns false)
  replace,  // each invalid byte becomes U+FFFD, so serialisation of untrusted text never fails
};

// Appends the canonical form of `value` to `out`. Returns false (and leaves `out` in an
// unspecified but valid state) only when a string holds invalid UTF-8 and `mode` is reject.
bool append_canonical_json(std::string& out, const nlohmann::json& value,
                           InvalidUtf8 mode = InvalidUtf8::replace);

// Appends one canonical JSON string literal (with quotes) for `text`.
bool append_canonical_string(std::string& out, std::string_view text,
                             InvalidUtf8 mode = InvalidUtf8::replace);

// Convenience: the canonical form as a new string (invalid UTF-8 replaced).
std::string canonical_json(const nlohmann::json& value);

}  // namespace sallyport::audit

#pragma once
// Secret redaction and untrusted-text escaping. Every log line and every error body that may
// carry agent- or upstream-controlled text goes through these (the logger does it for you).
#include <string>
#include <string_view>

namespace sallyport {

// Replaces credential shapes with "[REDACTED]": Bearer/Basic authorization values, JWTs,
// PEM private-key blocks, OpenAI (`sk-…`, `sk-proj-…`), Anthropic (`sk-ant-…`), Azure
// (32-hex and 84-char keys after api-key), AWS access keys, Google API keys, and
// `api_key=`/`token:`/`password=`-style assignments.
std::string redact_secrets(std::string_view text);

// Escapes CR, LF, TAB, other C0/C1 controls and DEL as \r \n \t \xNN so that an untrusted string
// can never forge a second log line or smuggle terminal escapes. Invalid UTF-8 bytes are
// escaped as \xNN too; valid multi-byte UTF-8 passes through.
std::string escape_untrusted(std::string_view text);

// redact_secrets, then escape_untrusted: what the logger applies to every message and field.
std::string sanitize_for_log(std::string_view text);

}  // namespace sallyport

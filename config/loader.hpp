#pragma once
// Strict JSON config loader: unknown keys, wrong types and out-of-range values are errors that
// name the JSON pointer and the expected form. Every error is reported, not only the first.
#include "config/config.hpp"

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sallyport::config {

struct ConfigError {
  std::string pointer;  // JSON pointer, "" for the document itself
  std::string message;  // what was wrong and what is expected
  std::string to_string() const;  // "/egress/refresh: expected a duration like \"6h\""
};

struct LoadResult {
  std::optional<Config> config;
  std::vector<ConfigError> errors;
  std::string source;  // file path or "<embedded default>"
  bool ok() const { return config.has_value(); }
};

// Parses a config document; missing keys keep the defaults of config.hpp.
LoadResult parse_config(std::string_view json_text, std::string_view source);
// Reads at most 1 MiB from `path` (open + fstat on the same fd, regular files only).
LoadResult load_config_file(const std::string& path);
// The embedded default (config/default.json compiled into the binary).
std::string_view default_config_json();
LoadResult load_default_config();

// The effective config as JSON with secrets shown only as their reference ("env:NAME").
nlohmann::json to_masked_json(const Config& config);

// Resolves a secret; on failure `error` says which reference failed (never a value).
struct SecretValue {
  std::optional<std::string> value;
  std::string error;
};
SecretValue resolve_secret(const SecretRef& ref);
std::string resolve_value(const ValueRef& ref);

// Reads a whole small file safely (open + fstat on one fd, regular file, size cap).
struct FileRead {
  std::optional<std::string> content;
  std::string error;
};
FileRead read_small_file(const std::string& path, std::size_t max_bytes);

// "500ms", "5s", "10m", "6h", "1d" → milliseconds; nullopt when malformed.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
std::string format_duration(std::chrono::milliseconds d);

}  // namespace sallyport::config

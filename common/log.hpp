#pragma once
// Structured logging: one line per event on stdout, JSON (ts, level, component, msg, fields…) or
// human text. Every message and field value is redacted and escaped (common/redact.hpp), so call
// sites may pass untrusted strings as they are. Thread-safe; each line is written with one
// write() so lines from different threads never interleave.
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <type_traits>
#include <string>
#include <string_view>

namespace sallyport::log {

enum class Level : std::uint8_t { debug, info, warn, error };
enum class Format : std::uint8_t { json, text };

std::optional<Level> parse_level(std::string_view name);
std::optional<Format> parse_format(std::string_view name);
const char* to_string(Level level);

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v ? v : "") {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false"), raw_json(true) {}
  template <typename Int>
    requires std::is_arithmetic_v<Int>
  Field(std::string_view k, Int v) : key(k), value(std::to_string(v)), raw_json(true) {}

  std::string_view key;
  std::string value;
  bool raw_json = false;  // numbers and booleans are written unquoted in JSON mode
};

// Process-wide settings; safe to call at any time (e.g. on SIGHUP).
void configure(Format format, Level level);
bool enabled(Level level);

// Where lines go (default: stdout, fd 1). Tests point it at a pipe or file.
void set_output_fd(int fd);

void write(Level level, std::string_view component, std::string_view msg,
           std::initializer_list<Field> fields = {});

// Formats one line without writing it (used by tests and by write()).
std::string format_line(Format format, Level level, std::string_view component,
                        std::string_view msg, std::initializer_list<Field> fields);

inline void debug(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  if (enabled(Level::debug)) write(Level::debug, c, m, f);
}
inline void info(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  if (enabled(Level::info)) write(Level::info, c, m, f);
}
inline void warn(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  if (enabled(Level::warn)) write(Level::warn, c, m, f);
}
inline void error(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::error, c, m, f);
}

}  // namespace sallyport::log

#include "common/log.hpp"

#include "common/redact.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace sallyport::log {
namespace {

std::atomic<Format> g_format{Format::json};
std::atomic<Level> g_level{Level::info};
std::atomic<int> g_fd{STDOUT_FILENO};

void append_json_string(std::string& out, std::string_view s) {
  // s is already escaped for control characters; only quotes and backslashes remain.
  out.push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

std::string timestamp_utc() {
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now - secs).count();
  const std::time_t t = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long>(micros));
  return buf;
}

}  // namespace

std::optional<Level> parse_level(std::string_view name) {
  if (name == "debug") return Level::debug;
  if (name == "info") return Level::info;
  if (name == "warn" || name == "warning") return Level::warn;
  if (name == "error") return Level::error;
  return std::nullopt;
}

std::optional<Format> parse_format(std::string_view name) {
  if (name == "json") return Format::json;
  if (name == "text") return Format::text;
  return std::nullopt;
}

const char* to_string(Level level) {
  switch (level) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "info";
}

void configure(Format format, Level level) {
  g_format.store(format, std::memory_order_relaxed);
  g_level.store(level, std::memory_order_relaxed);
}

bool enabled(Level level) { return level >= g_level.load(std::memory_order_relaxed); }

void set_output_fd(int fd) { g_fd.store(fd, std::memory_order_relaxed); }

std::string format_line(Format format, Level level, std::string_view component,
                        std::string_view msg, std::initializer_list<Field> fields) {
  std::string line;
  line.reserve(128 + msg.size());
  const std::string ts = timestamp_utc();
  if (format == Format::json) {
    line += "{\"ts\":\"" + ts + "\",\"level\":\"";
    line += to_string(level);
    line += "\",\"component\":";
    append_json_string(line, sanitize_for_log(component));
    line += ",\"msg\":";
    append_json_string(line, sanitize_for_log(msg));
    for (const auto& f : fields) {
      line.push_back(',');
      append_json_string(line, sanitize_for_log(f.key));
      line.push_back(':');
      if (f.raw_json) line += f.value;
      else append_json_string(line, sanitize_for_log(f.value));
    }
    line += "}\n";
  } else {
    line += ts;
    line.push_back(' ');
    line += to_string(level);
    line.push_back(' ');
    line += sanitize_for_log(component);
    line += ": ";
    line += sanitize_for_log(msg);
    for (const auto& f : fields) {
      line.push_back(' ');
      line += sanitize_for_log(f.key);
      line.push_back('=');
      const std::string v = sanitize_for_log(f.value);
      const bool quote = v.empty() || v.find_first_of(" \"=") != std::string::npos;
      if (quote) append_json_string(line, v);
      else line += v;
    }
    line.push_back('\n');
  }
  return line;
}

void write(Level level, std::string_view component, std::string_view msg,
           std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  const std::string line =
      format_line(g_format.load(std::memory_order_relaxed), level, component, msg, fields);
  const int fd = g_fd.load(std::memory_order_relaxed);
  std::size_t off = 0;
  while (off < line.size()) {
    const ssize_t n = ::write(fd, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // logging must never take the process down
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace sallyport::log

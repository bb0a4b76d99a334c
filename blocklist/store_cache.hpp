#pragma once
// File helpers for BlocklistStore: bounded reads and crash-safe cache writes.
#include <optional>
#include <string>
#include <string_view>

namespace sallyport::blocklist {

// "<dir>/feed-<name>.txt"; feed names are validated to [a-z0-9._-] before they get here.
std::string feed_cache_path(std::string_view dir, std::string_view feed_name);

// Reads a whole file of at most `max_bytes`. On failure returns nullopt and sets `error`
// ("cannot open /x: No such file or directory").
std::optional<std::string> read_text_file(const std::string& path, std::size_t max_bytes,
                                          std::string& error);

// Writes `content` to `path` atomically: a temp file in the same directory (mode 0600),
// write + fsync, rename over `path`, fsync the directory. Creates the directory (0700) if
// missing. Returns false and sets `error` on any failure (the old file is then untouched).
bool write_file_atomically(const std::string& path, std::string_view content, std::string& error);

}  // namespace sallyport::blocklist

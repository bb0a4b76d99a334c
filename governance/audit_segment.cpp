#include "governance/audit_segment.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sallyport::audit {
namespace {

constexpr std::string_view kPrefix = "audit-";
constexpr std::string_view kSuffix = ".jsonl";
constexpr std::size_t kMaxTrailingBadLines = 16;  // beyond that it is tampering, not a crash

[[noreturn]] void fail(const std::filesystem::path& path, std::string_view what) {
  throw std::runtime_error(path.string() + ": " + std::string(what) + ": " + std::strerror(errno));
}

void fsync_path(const std::filesystem::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) fail(path, "cannot open for fsync");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) fail(path, "fsync failed");
}

std::filesystem::path free_torn_name(const std::filesystem::path& segment) {
  std::filesystem::path candidate = segment.string() + ".torn";
  for (int n = 1; std::filesystem::exists(candidate); ++n)
    candidate = segment.string() + ".torn." + std::to_string(n);
  return candidate;
}

// Length of the good prefix of `data` (ends after a '\n' of a valid record) and its head.
std::size_t good_prefix(std::string_view data, ChainHead& head, std::string& reason) {
  std::size_t end = data.rfind('\n');
  if (end == std::string_view::npos) {
    reason = "no complete line";
    return 0;
  }
  if (end + 1 != data.size()) reason = "torn last line (no trailing newline)";
  for (std::size_t bad = 0; bad <= kMaxTrailingBadLines; ++bad) {
    const std::size_t start = end == 0 ? 0 : data.rfind('\n', end - 1);
    const std::size_t line_start = start == std::string_view::npos || end == 0 ? 0 : start + 1;
    const std::string_view line = data.substr(line_start, end - line_start);
    std::string error;
    HashBytes computed{};
    if (auto rec = scan_record(line, error)) {
      if (recompute_hash(line, *rec, computed) && to_hex(computed) == rec->hash) {
        head.empty = false;
        head.last_seq = rec->seq;
        head.last_hash = computed;
        return end + 1;
      }
      error = "hash does not match the record";
    }
    if (reason.empty()) reason = "last line is not a valid record: " + error;
    if (line_start == 0) return 0;
    end = line_start - 1;
  }
  throw std::runtime_error("too many invalid lines at the end of the newest audit segment; "
                           "refusing to quarantine them (run `sallyport audit verify`)");
}

}  // namespace

std::string segment_name(std::uint64_t first_seq) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "audit-%020llu.jsonl", static_cast<unsigned long long>(first_seq));
  return buf;
}

bool is_segment_name(std::string_view name) {
  if (name.size() != kPrefix.size() + 20 + kSuffix.size()) return false;
  if (name.substr(0, kPrefix.size()) != kPrefix) return false;
  if (name.substr(name.size() - kSuffix.size()) != kSuffix) return false;
  const auto digits = name.substr(kPrefix.size(), 20);
  return std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<std::filesystem::path> list_segments(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec) && is_segment_name(entry.path().filename().string()))
      out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool read_whole_file(const std::filesystem::path& path, std::string& out, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = path.string() + ": cannot open: " + std::strerror(errno);
    return false;
  }
  out.clear();
  const off_t size = ::lseek(fd, 0, SEEK_END);
  ::lseek(fd, 0, SEEK_SET);
  // Read straight into the string (one copy); grow if the file grew meanwhile.
  std::size_t used = 0;
  out.resize(size > 0 ? static_cast<std::size_t>(size) + 1 : 65536);
  while (true) {
    if (used == out.size()) out.resize(out.size() * 2);
    const ssize_t n = ::read(fd, out.data() + used, out.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = path.string() + ": read failed: " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  out.resize(used);
  ::close(fd);
  return true;
}

RecoveredTail recover_tail(const std::filesystem::path& dir) {
  RecoveredTail result;
  auto segments = list_segments(dir);
  while (!segments.empty()) {
    const auto segment = segments.back();
    std::string data, error;
    if (!read_whole_file(segment, data, error)) throw std::runtime_error(error);
    std::string reason;
    const std::size_t good = data.empty() ? 0 : good_prefix(data, result.head, reason);
    if (good < data.size()) {
      TailRecovery rec;
      rec.segment = segment;
      rec.torn_file = free_torn_name(segment);
      rec.torn_bytes = data.size() - good;
      rec.good_bytes = good;
      rec.reason = reason;
      std::ofstream torn(rec.torn_file, std::ios::binary);
      torn.write(data.data() + good, static_cast<std::streamsize>(data.size() - good));
      torn.close();
      if (!torn) fail(rec.torn_file, "cannot write torn side file");
      fsync_path(rec.torn_file, O_RDONLY);
      if (::truncate(segment.c_str(), static_cast<off_t>(good)) != 0) fail(segment, "truncate");
      fsync_path(segment, O_RDONLY);
      fsync_path(dir, O_RDONLY | O_DIRECTORY);
      if (!result.recovery) result.recovery = rec;  // the newest segment's recovery is reported
    }
    if (!result.head.empty) return result;
    std::filesystem::remove(segment);  // nothing good in it; the chain continues before it
    segments.pop_back();
  }
  return result;
}

}  // namespace sallyport::audit

#pragma once
// Segment files of one audit directory: naming, listing and start-up tail recovery.
// A segment is named audit-<first seq, 20 digits>.jsonl so lexical order is chain order. Each
// writer start opens a new segment; rotation opens the next one. Torn bytes found at start-up are
// moved to <segment>.torn (or .torn.N when that exists); other files in the dir are ignored.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "governance/audit_record.hpp"

namespace sallyport::audit {

std::string segment_name(std::uint64_t first_seq);
bool is_segment_name(std::string_view filename);
// Segment files in `dir`, oldest first. Empty when the dir is missing.
std::vector<std::filesystem::path> list_segments(const std::filesystem::path& dir);

bool read_whole_file(const std::filesystem::path& path, std::string& out, std::string& error);

// The head of the chain as found on disk.
struct ChainHead {
  bool empty = true;         // no record anywhere: the next record is seq 1 after genesis
  std::uint64_t last_seq = 0;
  HashBytes last_hash{};
};

struct TailRecovery {
  std::filesystem::path segment;     // where the torn bytes were
  std::filesystem::path torn_file;   // where they are now
  std::uint64_t torn_bytes = 0;
  std::uint64_t good_bytes = 0;      // the segment was truncated to this length
  std::string reason;                // why the bytes were rejected
};

struct RecoveredTail {
  ChainHead head;
  std::optional<TailRecovery> recovery;
};

// Verifies the newest segment's tail: bytes after the last '\n' and trailing complete lines that
// do not scan or whose hash does not recompute are moved to a side file, the segment is truncated
// to its last good record and fsynced. Empty newest segments are removed and the previous one is
// examined. Throws std::runtime_error on I/O failure (start-up path).
RecoveredTail recover_tail(const std::filesystem::path& dir);

}  // namespace sallyport::audit

#pragma once
// Offline verification of an audit log (one segment file or a directory of segments).
//
// Checks, in chain order: each line is a record in the writer's layout (audit_record.hpp); its
// hash recomputes from its own bytes; seq increases by one and prev equals the previous record's
// hash, also across segment files; every checkpoint is signed by the expected key over its prev;
// nothing follows a final checkpoint inside a segment; and (unless allow_open_tail) the log ends
// with a final checkpoint, so every record is covered by a signature.
//
// The key: with `pubkey`, every checkpoint must carry its key id (otherwise unknown_key). Without
// it, the key in the first checkpoint is trusted for the rest (trust on first use): this proves
// internal consistency, not authorship — pass the sandbox's public key to prove that.
//
// The first break is reported with a reason from a closed set:
//   modified       a record's bytes do not hash to its "hash", or a record was replaced (the next
//                  record's prev does not match it although seq continues)
//   deleted        seq jumps forward inside a segment
//   reordered      a record appears out of order (a later/earlier seq than expected)
//   inserted       an extra record: a duplicate seq sharing the previous record's prev, or a
//                  record after a segment's final checkpoint
//   truncated      a torn last line, records missing at a segment boundary, or the log does not
//                  end with a final signed checkpoint
//   bad_signature  a checkpoint signature does not verify (for example a chain re-hashed after a
//                  forged insertion or edit)
//   unknown_key    a checkpoint signed by a key other than the expected one
//   malformed      a line that is not a record, or a checkpoint without its fields
// Speed: a single pass over each line without building a JSON DOM (only checkpoint details are
// parsed), ≥ 1 M records/s.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "governance/identity.hpp"

namespace sallyport::audit {

enum class BreakReason : unsigned char {
  modified, deleted, reordered, inserted, truncated, bad_signature, unknown_key, malformed
};
const char* to_string(BreakReason reason) noexcept;

struct VerifyOptions {
  std::optional<identity::PublicKey> pubkey;
  bool allow_open_tail = false;  // accept a live/crashed log whose newest records are unsigned
};

struct BadRecord {
  BreakReason reason = BreakReason::malformed;
  std::filesystem::path file;
  std::uint64_t line = 0;      // 1-based line number in `file`
  std::uint64_t offset = 0;    // byte offset of the line in `file`
  std::optional<std::uint64_t> seq;
  std::string message;         // what was expected and what was found
  std::string record;          // the offending line (cut at 2000 bytes)
};

struct VerifyResult {
  bool ok = false;
  std::optional<std::string> io_error;  // the path could not be read (not a verdict)
  std::uint64_t files = 0;
  std::uint64_t records = 0;            // all records, checkpoints included
  std::uint64_t checkpoints = 0;
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;
  std::string last_hash;
  std::string key_id;                    // key that signed the checkpoints
  std::uint64_t unsigned_tail_records = 0;  // records after the last checkpoint
  std::optional<BadRecord> bad;
  std::vector<std::string> notes;       // e.g. quarantined .torn files, chain start not at seq 1
};

VerifyResult verify_log(const std::filesystem::path& file_or_dir, const VerifyOptions& options);

}  // namespace sallyport::audit

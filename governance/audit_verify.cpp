#include "governance/audit_verify.hpp"

#include <cstring>

#include <nlohmann/json.hpp>

#include "governance/audit_record.hpp"
#include "governance/audit_segment.hpp"

namespace sallyport::audit {
namespace {

// Compares a hash with its 64 lower-case hex form without allocating (hot path).
bool hash_matches(const HashBytes& hash, std::string_view hex) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t k = 0; k < hash.size(); ++k) {
    if (hex[2 * k] != kHex[hash[k] >> 4] || hex[2 * k + 1] != kHex[hash[k] & 0xF]) return false;
  }
  return true;
}

struct LineRef {
  std::string_view text;
  std::uint64_t number = 0;
  std::uint64_t offset = 0;
};

class Verifier {
 public:
  Verifier(const VerifyOptions& options, VerifyResult& result)
      : options_(options), result_(result), key_(options.pubkey) {}

  // false once a break was found.
  bool file(const std::filesystem::path& path, const std::string& data);
  void finish();

 private:
  bool record(const LineRef& line, std::string_view rest_of_file);
  bool checkpoint(const LineRef& line, const ScannedRecord& rec);
  bool fail(BreakReason reason, const LineRef& line, std::optional<std::uint64_t> seq,
            std::string message);
  static std::optional<ScannedRecord> peek(std::string_view rest);

  const VerifyOptions& options_;
  VerifyResult& result_;
  std::optional<identity::PublicKey> key_;
  std::filesystem::path path_;
  bool have_head_ = false;
  std::uint64_t expected_ = 0;
  std::string head_;       // hex hash of the previous record
  std::string head_prev_;  // its prev
  LineRef head_line_;      // text points into the current file, or into head_text_
  std::string head_text_;  // copy made at the end of each file for breaks at the boundary
  bool first_in_file_ = true;
  bool after_final_ = false;
  bool last_was_final_ = false;
  std::optional<std::uint64_t> last_checkpoint_seq_;
  std::optional<LineRef> first_unsigned_;
  std::string first_unsigned_text_;
  std::filesystem::path first_unsigned_path_;
  std::optional<std::uint64_t> first_unsigned_seq_;
};

bool Verifier::fail(BreakReason reason, const LineRef& line, std::optional<std::uint64_t> seq,
                    std::string message) {
  BadRecord bad;
  bad.reason = reason;
  bad.file = path_;
  bad.line = line.number;
  bad.offset = line.offset;
  bad.seq = seq;
  bad.message = std::move(message);
  bad.record = std::string(line.text.substr(0, 2000));
  result_.bad = std::move(bad);
  return false;
}

std::optional<ScannedRecord> Verifier::peek(std::string_view rest) {
  const auto end = rest.find('\n');
  if (end == std::string_view::npos) return std::nullopt;
  std::string ignored;
  return scan_record(rest.substr(0, end), ignored);
}

bool Verifier::checkpoint(const LineRef& line, const ScannedRecord& rec) {
  const auto detail = nlohmann::json::parse(rec.detail, nullptr, false);
  if (!detail.is_object() || !detail.contains("key_id") || !detail["key_id"].is_string() ||
      !detail.contains("sig") || !detail["sig"].is_string() || !detail.contains("covers_seq") ||
      !detail["covers_seq"].is_number_unsigned())
    return fail(BreakReason::malformed, line, rec.seq,
                "checkpoint detail must hold key_id, sig and covers_seq");
  const auto key_id = detail["key_id"].get<std::string>();
  if (!key_) {
    const auto pub = detail.contains("pubkey") && detail["pubkey"].is_string()
                         ? identity::PublicKey::from_hex(detail["pubkey"].get<std::string>())
                         : std::nullopt;
    if (!pub || pub->key_id() != key_id)
      return fail(BreakReason::unknown_key, line, rec.seq,
                  "checkpoint key " + key_id + " comes without a matching public key");
    key_ = pub;
    result_.notes.push_back("no public key given: trusting key " + key_id +
                            " from the first checkpoint (pass --pubkey to prove authorship)");
  }
  if (key_id != key_->key_id())
    return fail(BreakReason::unknown_key, line, rec.seq,
                "checkpoint signed by key " + key_id + ", expected key " + key_->key_id());
  result_.key_id = key_id;
  identity::Signature sig{};
  HashBytes covered{};
  if (!from_hex(detail["sig"].get<std::string>(), sig.data(), sig.size()) ||
      !from_hex(rec.prev, covered.data(), covered.size()) || !key_->verify(covered, sig))
    return fail(BreakReason::bad_signature, line, rec.seq,
                "checkpoint signature does not verify over the chain head " +
                    std::string(rec.prev) + ": records before it were altered or forged");
  if (detail["covers_seq"].get<std::uint64_t>() + 1 != rec.seq)
    return fail(BreakReason::malformed, line, rec.seq, "checkpoint covers_seq is not seq-1");
  ++result_.checkpoints;
  last_checkpoint_seq_ = rec.seq;
  first_unsigned_.reset();
  last_was_final_ = detail.value("final", false);
  after_final_ = last_was_final_;
  return true;
}

bool Verifier::record(const LineRef& line, std::string_view rest) {
  std::string error;
  auto rec = scan_record_fast(line.text);
  if (!rec) rec = scan_record(line.text, error);  // slow path: precise error or unusual layout
  if (!rec) return fail(BreakReason::malformed, line, std::nullopt, error);
  HashBytes computed{};
  if (!recompute_hash(line.text, *rec, computed) || !hash_matches(computed, rec->hash))
    return fail(BreakReason::modified, line, rec->seq,
                "record bytes do not hash to its \"hash\" (expected " + to_hex(computed) + ")");
  if (have_head_) {
    if (after_final_)
      return fail(BreakReason::inserted, line, rec->seq,
                  "record after the final checkpoint of its segment");
    if (rec->seq > expected_) {
      const auto next = peek(rest);
      if (next && next->seq == expected_)
        return fail(BreakReason::reordered, line, rec->seq,
                    "seq " + std::to_string(rec->seq) + " appears before seq " + std::to_string(expected_));
      return fail(first_in_file_ ? BreakReason::truncated : BreakReason::deleted, line, rec->seq,
                  "records " + std::to_string(expected_) + ".." + std::to_string(rec->seq - 1) +
                      " are missing" + (first_in_file_ ? " at the segment boundary" : ""));
    }
    if (rec->seq < expected_) {
      if (rec->seq + 1 == expected_ && rec->prev == head_prev_) {
        const auto next = peek(rest);
        if (next && next->prev == rec->hash) {
          const LineRef prev_line = head_line_;
          return fail(BreakReason::inserted, prev_line, rec->seq,
                      "extra record with seq " + std::to_string(rec->seq) +
                          " that the chain does not continue from");
        }
        return fail(BreakReason::inserted, line, rec->seq,
                    "second record with seq " + std::to_string(rec->seq));
      }
      return fail(BreakReason::reordered, line, rec->seq,
                  "seq " + std::to_string(rec->seq) + " appears after seq " + std::to_string(expected_ - 1));
    }
    if (rec->prev != head_) {
      const LineRef prev_line = head_line_;
      return fail(BreakReason::modified, prev_line, expected_ - 1,
                  "record was replaced: the next record's prev is " + std::string(rec->prev) +
                      ", this record hashes to " + head_);
    }
  } else {
    result_.first_seq = rec->seq;
    if (rec->seq == 1 && rec->prev != kGenesisPrev)
      return fail(BreakReason::modified, line, rec->seq, "seq 1 must have the genesis prev (64 zeros)");
    if (rec->seq != 1)
      result_.notes.push_back("chain starts at seq " + std::to_string(rec->seq) +
                              " (earlier segments are not part of this verification)");
  }
  if (first_in_file_ && after_final_) after_final_ = false;
  last_was_final_ = false;
  if (rec->kind == kCheckpointKind) {
    if (!checkpoint(line, *rec)) return false;
  } else if (!first_unsigned_) {
    first_unsigned_ = line;
    first_unsigned_text_ = std::string(line.text.substr(0, 2000));
    first_unsigned_path_ = path_;
    first_unsigned_seq_ = rec->seq;
  }
  have_head_ = true;
  expected_ = rec->seq + 1;
  head_.assign(rec->hash);
  head_prev_.assign(rec->prev);
  head_line_ = line;
  result_.last_seq = rec->seq;
  ++result_.records;
  first_in_file_ = false;
  return true;
}

bool Verifier::file(const std::filesystem::path& path, const std::string& data) {
  path_ = path;
  first_in_file_ = true;
  after_final_ = false;
  const std::string_view all(data);
  std::size_t pos = 0;
  std::uint64_t number = 0;
  while (pos < all.size()) {
    ++number;
    const std::size_t end = all.find('\n', pos);
    if (end == std::string_view::npos) {
      return fail(BreakReason::truncated, LineRef{all.substr(pos), number, pos}, std::nullopt,
                  "torn last line: " + std::to_string(all.size() - pos) +
                      " bytes without a trailing newline (crash mid-write or truncation)");
    }
    const LineRef line{all.substr(pos, end - pos), number, pos};
    if (!record(line, all.substr(end + 1))) return false;
    pos = end + 1;
  }
  if (have_head_) {  // `data` is about to be replaced: keep the last line for boundary reports
    head_text_.assign(head_line_.text.substr(0, 2000));
    head_line_.text = head_text_;
  }
  return true;
}

void Verifier::finish() {
  result_.last_hash = head_;
  const std::uint64_t signed_upto = last_checkpoint_seq_.value_or(0);
  result_.unsigned_tail_records = result_.last_seq > signed_upto ? result_.last_seq - signed_upto : 0;
  if (!have_head_ || last_was_final_ || options_.allow_open_tail) return;
  path_ = first_unsigned_ ? first_unsigned_path_ : path_;
  const LineRef where = first_unsigned_
                            ? LineRef{first_unsigned_text_, first_unsigned_->number, first_unsigned_->offset}
                            : head_line_;
  fail(BreakReason::truncated, where, first_unsigned_ ? first_unsigned_seq_ : result_.last_seq,
       "the log does not end with a final signed checkpoint: " +
           std::to_string(result_.unsigned_tail_records) +
           " record(s) are not covered by a signature (writer still running or crashed, or the "
           "tail was cut)");
}

}  // namespace

const char* to_string(BreakReason reason) noexcept {
  switch (reason) {
    case BreakReason::modified: return "modified";
    case BreakReason::deleted: return "deleted";
    case BreakReason::reordered: return "reordered";
    case BreakReason::inserted: return "inserted";
    case BreakReason::truncated: return "truncated";
    case BreakReason::bad_signature: return "bad_signature";
    case BreakReason::unknown_key: return "unknown_key";
    case BreakReason::malformed: return "malformed";
  }
  return "malformed";
}

VerifyResult verify_log(const std::filesystem::path& file_or_dir, const VerifyOptions& options) {
  VerifyResult result;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_directory(file_or_dir, ec)) {
    files = list_segments(file_or_dir);
    for (const auto& entry : std::filesystem::directory_iterator(file_or_dir, ec)) {
      const auto name = entry.path().filename().string();
      if (name.find(".jsonl.torn") != std::string::npos)
        result.notes.push_back("quarantined torn tail present: " + name);
    }
    if (files.empty()) {
      result.io_error = file_or_dir.string() + ": no audit segments (audit-*.jsonl) found";
      return result;
    }
  } else if (std::filesystem::exists(file_or_dir, ec)) {
    files.push_back(file_or_dir);
  } else {
    result.io_error = file_or_dir.string() + ": no such file or directory";
    return result;
  }
  Verifier verifier(options, result);
  std::string data, error;
  for (const auto& path : files) {
    if (!read_whole_file(path, data, error)) {
      result.io_error = error;
      return result;
    }
    ++result.files;
    if (!verifier.file(path, data)) return result;
  }
  verifier.finish();
  result.ok = !result.bad.has_value();
  return result;
}

}  // namespace sallyport::audit

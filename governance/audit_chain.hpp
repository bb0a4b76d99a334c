#pragma once
// AuditChain: the append-only, hash-chained, signed audit log of one sandbox.
//
// Contract:
// - append() may be called from any thread. It stamps the time, hands the event to a bounded
//   queue and returns; one writer thread assigns seq, encodes (audit_record.hpp), writes and
//   fdatasyncs. With fsync=group the writer syncs at most every group_interval (callers never wait
//   for it); with fsync=record every record is synced before the next one is written.
// - append() returns false (and counts `dropped`) when the event was NOT accepted: the chain is
//   closed, unhealthy (disk error: fail closed), or the queue stayed full for enqueue_timeout.
// - Checkpoint records (kind "checkpoint") carry an Ed25519 signature over the current chain
//   head (the checkpoint's own `prev`, 32 raw bytes): detail = {"covers_seq", "final", "key_id",
//   "pubkey" (hex), "sig" (hex), optional "recovered"}. One is written at start ("start", covering
//   the previous tail), every checkpoint_every records, every checkpoint_interval when records
//   were appended, before rotation ("rotate", final) and at close ("shutdown", final).
// - Every start opens a new segment; rotation by size/time opens the next. The chain continues:
//   a new segment's first prev is the old tail. Torn tails are quarantined at start
//   (audit_segment.hpp) and reported in the start checkpoint and by recovery().
// - Disk errors (ENOSPC, EIO, EFBIG) never crash: healthy() turns false, `errors` counts them,
//   the writer retries with back-off and turns healthy again when a write+sync succeeds.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "governance/audit_record.hpp"
#include "governance/audit_segment.hpp"
#include "governance/identity.hpp"

namespace sallyport::audit {

enum class FsyncMode : unsigned char { record, group };
std::optional<FsyncMode> parse_fsync_mode(std::string_view text);  // "record" | "group"

struct AuditOptions {
  std::filesystem::path dir;
  FsyncMode fsync = FsyncMode::group;
  std::chrono::milliseconds group_interval{10};
  std::uint64_t checkpoint_every = 1000;               // records; 0 = never by count
  std::chrono::milliseconds checkpoint_interval{60000}; // 0 = never by time
  std::uint64_t rotate_bytes = 64ull << 20;            // 0 = never by size
  std::chrono::milliseconds rotate_interval{0};        // 0 = never by time (e.g. 24h)
  std::size_t queue_capacity = 65536;
  std::chrono::milliseconds enqueue_timeout{50};        // how long append() may wait when full
};

struct AuditCounters {
  std::uint64_t records_appended = 0;  // events written (checkpoints excluded)
  std::uint64_t checkpoints = 0;
  std::uint64_t bytes_written = 0;
  std::uint64_t fsyncs = 0;
  std::uint64_t queue_depth = 0;
  std::uint64_t dropped = 0;           // append() calls that returned false
  std::uint64_t errors = 0;            // failed write/fsync/open attempts
  std::uint64_t rotations = 0;
  std::uint64_t committed_seq = 0;     // highest seq known durable
};

class AuditChain {
 public:
  // Recovers the tail, opens a new segment and writes the start checkpoint. Throws
  // std::runtime_error (start-up failure) when the dir cannot be used.
  static std::unique_ptr<AuditChain> open(AuditOptions options, Attribution attribution,
                                          std::shared_ptr<const identity::Identity> identity);
  ~AuditChain();  // close()
  AuditChain(const AuditChain&) = delete;
  AuditChain& operator=(const AuditChain&) = delete;

  bool append(AuditEvent event);
  // Blocks until every event accepted before the call is durable; false on timeout/unhealthy.
  bool flush(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Drains the queue, writes the final checkpoint, syncs and stops the writer. Idempotent.
  void close();

  bool healthy() const noexcept { return healthy_.load(std::memory_order_relaxed); }
  AuditCounters counters() const;
  std::uint64_t committed_seq() const noexcept { return committed_seq_.load(); }
  // The torn tail quarantined at start, if any.
  const std::optional<TailRecovery>& recovery() const noexcept { return recovery_; }
  const std::filesystem::path& dir() const noexcept { return options_.dir; }

 private:
  struct Queued {
    AuditEvent event;
  };
  AuditChain(AuditOptions options, Attribution attribution,
             std::shared_ptr<const identity::Identity> identity);
  void start();
  void run();
  void process(std::vector<Queued>& batch);
  void emit(const AuditEvent& event, bool is_checkpoint);
  void checkpoint(const char* reason, bool final, nlohmann::json extra = nullptr);
  bool open_segment();
  void rotate();
  bool write_pending();
  bool sync();
  void note_error(const char* what, int err);
  void maybe_timed_work(std::chrono::steady_clock::time_point now);
  std::chrono::steady_clock::time_point next_deadline(std::chrono::steady_clock::time_point now) const;
  bool recover_from_failure();

  const AuditOptions options_;
  const Attribution attribution_;
  const std::shared_ptr<const identity::Identity> identity_;
  std::optional<TailRecovery> recovery_;

  // Producer side.
  mutable std::mutex mutex_;
  std::condition_variable writer_cv_;
  std::condition_variable producer_cv_;
  std::vector<Queued> queue_;
  bool stopping_ = false;
  bool flush_requested_ = false;
  std::uint64_t accepted_ = 0;      // events accepted by append()
  std::uint64_t durable_events_ = 0;  // events known durable (guarded by mutex_)
  std::condition_variable durable_cv_;

  // Writer side (only the writer thread touches these after start()).
  int fd_ = -1;
  std::filesystem::path segment_path_;
  std::uint64_t segment_bytes_ = 0;       // bytes on disk in the current segment
  std::uint64_t segment_records_ = 0;
  std::chrono::steady_clock::time_point segment_opened_{};
  std::uint64_t next_seq_ = 1;
  HashBytes head_{};
  std::uint64_t since_checkpoint_ = 0;
  std::chrono::steady_clock::time_point last_checkpoint_{};
  std::chrono::steady_clock::time_point last_sync_{};
  std::string pending_;                   // encoded, not yet written
  std::uint64_t pending_events_ = 0;
  std::uint64_t written_events_ = 0;      // written, maybe not synced
  std::uint64_t written_seq_ = 0;
  bool unsynced_ = false;
  bool failed_ = false;                   // last write/sync failed; retry with back-off
  bool reopen_pending_ = false;           // rotation waits for the final checkpoint to land
  std::vector<Queued> backlog_;           // accepted but not encoded while the disk failed

  std::atomic<bool> healthy_{true};
  std::atomic<std::uint64_t> committed_seq_{0};
  std::atomic<std::uint64_t> records_appended_{0}, checkpoints_{0}, bytes_written_{0}, fsyncs_{0},
      dropped_{0}, errors_{0}, rotations_{0};
  std::thread writer_;
  bool closed_ = false;
};

}  // namespace sallyport::audit

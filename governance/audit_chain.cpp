#include "governance/audit_chain.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/log.hpp"

namespace sallyport::audit {
namespace {

constexpr std::string_view kComponent = "audit";
constexpr auto kRetryBackoff = std::chrono::milliseconds(100);

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

std::optional<FsyncMode> parse_fsync_mode(std::string_view text) {
  if (text == "record") return FsyncMode::record;
  if (text == "group") return FsyncMode::group;
  return std::nullopt;
}

AuditChain::AuditChain(AuditOptions options, Attribution attribution,
                       std::shared_ptr<const identity::Identity> identity)
    : options_(std::move(options)),
      attribution_(std::move(attribution)),
      identity_(std::move(identity)) {}

std::unique_ptr<AuditChain> AuditChain::open(AuditOptions options, Attribution attribution,
                                             std::shared_ptr<const identity::Identity> identity) {
  if (!identity) throw std::invalid_argument("AuditChain::open: identity is required");
  std::unique_ptr<AuditChain> chain(
      new AuditChain(std::move(options), std::move(attribution), std::move(identity)));
  chain->start();
  return chain;
}

void AuditChain::start() {
  std::error_code ec;
  std::filesystem::create_directories(options_.dir, ec);
  if (ec) throw std::runtime_error(options_.dir.string() + ": cannot create audit dir: " + ec.message());
  RecoveredTail tail = recover_tail(options_.dir);
  recovery_ = tail.recovery;
  next_seq_ = tail.head.empty ? 1 : tail.head.last_seq + 1;
  head_ = tail.head.last_hash;  // all zeros (genesis) when empty
  nlohmann::json recovered = nullptr;
  if (recovery_) {
    recovered = {{"segment", recovery_->segment.filename().string()},
                 {"torn_file", recovery_->torn_file.filename().string()},
                 {"torn_bytes", recovery_->torn_bytes},
                 {"reason", recovery_->reason}};
    log::warn(kComponent, "torn audit tail quarantined; chain continues from the last good record",
              {{"segment", recovery_->segment.string()},
               {"torn_file", recovery_->torn_file.string()},
               {"torn_bytes", recovery_->torn_bytes},
               {"last_good_seq", next_seq_ - 1},
               {"reason", recovery_->reason}});
  }
  if (!open_segment()) throw std::runtime_error(segment_path_.string() + ": cannot open audit segment");
  checkpoint("start", false, std::move(recovered));
  if (!write_pending() || !sync())
    throw std::runtime_error(segment_path_.string() + ": cannot write the start checkpoint");
  writer_ = std::thread([this] { run(); });
}

AuditChain::~AuditChain() { close(); }

bool AuditChain::append(AuditEvent event) {
  if (!healthy_.load(std::memory_order_relaxed)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (!event.time) event.time = std::chrono::system_clock::now();
  std::unique_lock lock(mutex_);
  if (queue_.size() >= options_.queue_capacity) {
    producer_cv_.wait_for(lock, options_.enqueue_timeout,
                          [this] { return stopping_ || queue_.size() < options_.queue_capacity; });
  }
  if (stopping_ || queue_.size() >= options_.queue_capacity) {
    lock.unlock();
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  const bool was_empty = queue_.empty();
  queue_.push_back(Queued{std::move(event)});
  ++accepted_;
  lock.unlock();
  if (was_empty) writer_cv_.notify_one();
  return true;
}

bool AuditChain::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = accepted_;
  flush_requested_ = true;
  writer_cv_.notify_one();
  return durable_cv_.wait_for(lock, timeout, [&] { return durable_events_ >= target; });
}

void AuditChain::close() {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    stopping_ = true;
  }
  writer_cv_.notify_one();
  producer_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

AuditCounters AuditChain::counters() const {
  AuditCounters c;
  c.records_appended = records_appended_.load();
  c.checkpoints = checkpoints_.load();
  c.bytes_written = bytes_written_.load();
  c.fsyncs = fsyncs_.load();
  c.dropped = dropped_.load();
  c.errors = errors_.load();
  c.rotations = rotations_.load();
  c.committed_seq = committed_seq_.load();
  std::lock_guard lock(mutex_);
  c.queue_depth = queue_.size();
  return c;
}

void AuditChain::note_error(const char* what, int err) {
  errors_.fetch_add(1, std::memory_order_relaxed);
  failed_ = true;
  if (healthy_.exchange(false)) {
    log::error(kComponent, "audit log write failed; appends are refused until it recovers",
               {{"op", what}, {"segment", segment_path_.string()}, {"error", std::strerror(err)}});
  }
}

bool AuditChain::open_segment() {
  if (fd_ >= 0) ::close(fd_);
  segment_path_ = options_.dir / segment_name(next_seq_);
  fd_ = ::open(segment_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) {
    note_error("open", errno);
    return false;
  }
  struct stat st{};
  segment_bytes_ = ::fstat(fd_, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  segment_records_ = 0;
  segment_opened_ = std::chrono::steady_clock::now();
  const int dir = ::open(options_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return true;
}

void AuditChain::emit(const AuditEvent& event, bool is_checkpoint) {
  HashBytes hash{};
  pending_ += encode_record(event, attribution_, next_seq_, head_, hash);
  head_ = hash;
  ++next_seq_;
  ++segment_records_;
  if (!is_checkpoint) {
    ++pending_events_;
    ++since_checkpoint_;
  }
}

void AuditChain::checkpoint(const char* reason, bool final, nlohmann::json extra) {
  const auto signature = identity_->sign(head_);
  AuditEvent event;
  event.kind = std::string(kCheckpointKind);
  event.decision = "signed";
  event.reason = reason;
  event.detail = {{"covers_seq", next_seq_ - 1},
                  {"final", final},
                  {"key_id", identity_->key_id()},
                  {"pubkey", identity_->public_key().hex()},
                  {"sig", to_hex(signature)}};
  if (!extra.is_null()) event.detail["recovered"] = std::move(extra);
  event.time = std::chrono::system_clock::now();
  emit(event, true);
  since_checkpoint_ = 0;
  last_checkpoint_ = std::chrono::steady_clock::now();
  checkpoints_.fetch_add(1, std::memory_order_relaxed);
}

bool AuditChain::write_pending() {
  if (pending_.empty()) return true;
  if (!write_all(fd_, pending_)) {
    const int err = errno;
    // Drop the partial line so the retry (O_APPEND) starts on a record boundary.
    if (::ftruncate(fd_, static_cast<off_t>(segment_bytes_)) != 0) errors_.fetch_add(1);
    note_error("write", err);
    return false;
  }
  segment_bytes_ += pending_.size();
  bytes_written_.fetch_add(pending_.size(), std::memory_order_relaxed);
  records_appended_.fetch_add(pending_events_, std::memory_order_relaxed);
  written_events_ += pending_events_;
  written_seq_ = next_seq_ - 1;
  pending_events_ = 0;
  pending_.clear();
  unsynced_ = true;
  return true;
}

bool AuditChain::sync() {
  if (!unsynced_) return true;
  if (::fdatasync(fd_) != 0) {
    note_error("fdatasync", errno);
    return false;
  }
  fsyncs_.fetch_add(1, std::memory_order_relaxed);
  unsynced_ = false;
  last_sync_ = std::chrono::steady_clock::now();
  committed_seq_.store(written_seq_);
  {
    std::lock_guard lock(mutex_);
    durable_events_ = written_events_;
  }
  durable_cv_.notify_all();
  return true;
}

void AuditChain::rotate() {
  checkpoint("rotate", true);
  if (!write_pending() || !sync()) {
    reopen_pending_ = true;  // open the next segment once the final checkpoint is on disk
    return;
  }
  if (open_segment()) rotations_.fetch_add(1, std::memory_order_relaxed);
  else reopen_pending_ = true;
}

void AuditChain::process(std::vector<Queued>& batch) {
  std::size_t k = 0;
  for (; k < batch.size() && !failed_; ++k) {
    if (options_.rotate_bytes != 0 && segment_records_ > 0 &&
        segment_bytes_ + pending_.size() >= options_.rotate_bytes) {
      if (!write_pending()) break;
      rotate();
      if (failed_) break;
    }
    emit(batch[k].event, false);
    if (options_.fsync == FsyncMode::record && !(write_pending() && sync())) {
      ++k;
      break;
    }
    if (options_.checkpoint_every != 0 && since_checkpoint_ >= options_.checkpoint_every)
      checkpoint("periodic", false);
  }
  // Events not yet encoded wait in backlog_ until the disk recovers.
  for (; k < batch.size(); ++k) backlog_.push_back(std::move(batch[k]));
  batch.clear();
}

void AuditChain::maybe_timed_work(std::chrono::steady_clock::time_point now) {
  if (options_.checkpoint_interval.count() > 0 && since_checkpoint_ > 0 &&
      now - last_checkpoint_ >= options_.checkpoint_interval)
    checkpoint("periodic", false);
  if (options_.rotate_interval.count() > 0 && segment_records_ > 0 &&
      now - segment_opened_ >= options_.rotate_interval && write_pending())
    rotate();
  if (write_pending() && unsynced_ &&
      (options_.fsync == FsyncMode::record || now - last_sync_ >= options_.group_interval))
    sync();
}

std::chrono::steady_clock::time_point AuditChain::next_deadline(
    std::chrono::steady_clock::time_point now) const {
  if (failed_) return now + kRetryBackoff;
  auto deadline = now + std::chrono::seconds(1);
  if (unsynced_) deadline = std::min(deadline, last_sync_ + options_.group_interval);
  if (options_.checkpoint_interval.count() > 0 && since_checkpoint_ > 0)
    deadline = std::min(deadline, last_checkpoint_ + options_.checkpoint_interval);
  if (options_.rotate_interval.count() > 0 && segment_records_ > 0)
    deadline = std::min(deadline, segment_opened_ + options_.rotate_interval);
  return deadline;
}

bool AuditChain::recover_from_failure() {
  if (!write_pending() || !sync()) return false;
  if (reopen_pending_) {
    if (!open_segment()) return false;
    reopen_pending_ = false;
    rotations_.fetch_add(1, std::memory_order_relaxed);
  }
  failed_ = false;
  healthy_.store(true);
  log::info(kComponent, "audit log writes recovered", {{"segment", segment_path_.string()}});
  std::vector<Queued> backlog;
  backlog.swap(backlog_);
  process(backlog);
  return !failed_;
}

void AuditChain::run() {
  std::vector<Queued> batch;
  while (true) {
    bool stop = false, flush = false;
    {
      std::unique_lock lock(mutex_);
      const auto deadline = next_deadline(std::chrono::steady_clock::now());
      writer_cv_.wait_until(lock, deadline, [&] {
        return stopping_ || flush_requested_ || (!queue_.empty() && !failed_);
      });
      if (!failed_) batch.swap(queue_);
      stop = stopping_;
      flush = flush_requested_;
      flush_requested_ = false;
    }
    producer_cv_.notify_all();
    if (failed_ && !recover_from_failure()) {
      if (stop) break;  // give up: the error was logged and counted
      continue;
    }
    process(batch);
    if (!write_pending()) continue;
    if (flush || stop) sync();
    maybe_timed_work(std::chrono::steady_clock::now());
    if (stop) {
      std::unique_lock lock(mutex_);
      if (!queue_.empty()) continue;  // drain what was accepted before close()
      lock.unlock();
      if (failed_) break;
      checkpoint("shutdown", true);
      if (write_pending()) sync();
      break;
    }
  }
  if (failed_ || !backlog_.empty() || !pending_.empty())
    log::error(kComponent, "audit writer stopped with unwritten records",
               {{"pending_bytes", pending_.size()}, {"backlog", backlog_.size()}});
}

}  // namespace sallyport::audit

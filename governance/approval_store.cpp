// Pending tool-call approvals with bounded wait (contracts in approval_store.hpp).
#include "governance/approval_store.hpp"

#include "common/redact.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace sallyport::governance {
namespace {

constexpr std::size_t kMaxActorOrReason = 256;

std::string to_hex(const unsigned char* bytes, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 0xf];
  }
  return out;
}

std::string random_id() {
  unsigned char bytes[16];
  randombytes_buf(bytes, sizeof bytes);
  return to_hex(bytes, sizeof bytes);
}

std::string clipped(std::string_view text) { return std::string(text.substr(0, kMaxActorOrReason)); }

}  // namespace

std::string args_sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest(SHA-256) failed");
  }
  return to_hex(digest, length);
}

std::string approval_args_summary(std::string_view args_json, std::size_t max_bytes) {
  // Redact before cutting: a cut could split a key and hide it from the patterns.
  std::string text = sanitize_for_log(args_json);
  if (text.size() <= max_bytes) return text;
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text + "\u2026";
}

const char* to_string(ApprovalState state) noexcept {
  switch (state) {
    case ApprovalState::pending: return "pending";
    case ApprovalState::approved: return "approved";
    case ApprovalState::denied: return "denied";
    case ApprovalState::expired: return "expired";
  }
  return "pending";
}

Decision ApprovalRecord::decision() const {
  std::string detail = actor.empty() ? reason : actor + ": " + reason;
  switch (state) {
    case ApprovalState::approved: return Decision::allow(approval_reason::approved, rule, std::move(detail));
    case ApprovalState::denied: return Decision::deny(approval_reason::denied, rule, std::move(detail));
    case ApprovalState::expired: return Decision::deny(approval_reason::timeout, rule, std::move(detail));
    case ApprovalState::pending: break;
  }
  return Decision::deny(approval_reason::pending, rule, "approval " + id + " pending");
}

ApprovalStore::ApprovalStore(ApprovalConfig config, Clock clock)
    : config_(config), clock_(std::move(clock)) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium initialisation failed");
}

std::optional<ApprovalRecord> ApprovalStore::create(const ApprovalRequest& request, Callback on_decided) {
  Fired fired;
  std::optional<ApprovalRecord> created;
  Callback notify;
  Callback replica;
  {
    std::lock_guard lock(mutex_);
    const auto now = clock_();
    expire_locked(now, fired);
    if (pending_count_ < config_.max_pending) {
      ApprovalRecord record;
      do {
        record.id = random_id();
      } while (entries_.contains(record.id));
      record.sandbox = request.sandbox;
      record.tool = request.tool;
      record.args_sha256 = args_sha256_hex(request.args_json);
      record.args_summary = approval_args_summary(request.args_json);
      if (config_.include_args) record.args = request.args_json;
      record.rule = request.rule;
      record.call_id = request.call_id;
      record.created = now;
      record.expires = now + config_.timeout;
      entries_.emplace(record.id, Entry{record, std::move(on_decided)});
      ++pending_count_;
      created = std::move(record);
      notify = notify_hook_;
      replica = replica_created_;
    }
  }
  fire(fired);  // callbacks never run under the lock (see header)
  if (created && replica) replica(*created);
  if (created && notify) notify(*created);
  return created;
}

void ApprovalStore::finish_locked(Entry& entry, Fired& fired) {
  entry.record.decided = clock_();
  --pending_count_;
  fired.records.emplace_back(entry.record, std::move(entry.on_decided));
  fired.hook = decision_hook_;
  fired.replica = replica_decided_;
  entry.on_decided = nullptr;
  decided_order_.push_back(entry.record.id);
  while (decided_order_.size() > config_.max_history) {
    entries_.erase(decided_order_.front());
    decided_order_.pop_front();
  }
  decided_cv_.notify_all();
}

void ApprovalStore::expire_locked(std::chrono::system_clock::time_point now, Fired& fired) {
  if (pending_count_ == 0) return;
  std::vector<Entry*> due;
  for (auto& [id, entry] : entries_) {
    if (entry.record.state == ApprovalState::pending && entry.record.expires <= now) due.push_back(&entry);
  }
  for (Entry* entry : due) {
    entry->record.state = ApprovalState::expired;
    entry->record.actor = "timeout";
    entry->record.reason = "not decided within " + std::to_string(config_.timeout.count()) + "s";
    finish_locked(*entry, fired);  // may prune older decided entries, never pending ones
  }
}

void ApprovalStore::fire(Fired& fired) {
  for (auto& [record, callback] : fired.records) {
    if (callback) callback(record);
    if (fired.hook) fired.hook(record);
    if (fired.replica) fired.replica(record);
  }
  fired.records.clear();
}

ApprovalStore::DecideResult ApprovalStore::decide(std::string_view id, bool approve,
                                                  std::string_view actor, std::string_view reason) {
  Fired fired;
  DecideResult result;
  {
    std::lock_guard lock(mutex_);
    expire_locked(clock_(), fired);
    auto it = entries_.find(id);
    if (it == entries_.end()) {
      result.status = DecideStatus::not_found;
    } else if (it->second.record.state != ApprovalState::pending) {
      result.status = DecideStatus::already_decided;
      result.record = it->second.record;
    } else {
      ApprovalRecord& record = it->second.record;
      record.state = approve ? ApprovalState::approved : ApprovalState::denied;
      record.actor = clipped(actor);
      record.reason = clipped(reason);
      result.status = DecideStatus::decided;
      result.record = record;
      finish_locked(it->second, fired);
    }
  }
  fire(fired);
  return result;
}

std::optional<ApprovalRecord> ApprovalStore::get(std::string_view id) {
  Fired fired;
  std::optional<ApprovalRecord> found;
  {
    std::lock_guard lock(mutex_);
    expire_locked(clock_(), fired);
    if (auto it = entries_.find(id); it != entries_.end()) found = it->second.record;
  }
  fire(fired);
  return found;
}

std::vector<ApprovalRecord> ApprovalStore::list_pending() {
  Fired fired;
  std::vector<ApprovalRecord> pending;
  {
    std::lock_guard lock(mutex_);
    expire_locked(clock_(), fired);
    for (const auto& [id, entry] : entries_) {
      if (entry.record.state == ApprovalState::pending) pending.push_back(entry.record);
    }
  }
  fire(fired);
  std::stable_sort(pending.begin(), pending.end(),
                   [](const ApprovalRecord& a, const ApprovalRecord& b) { return a.created < b.created; });
  return pending;
}

std::vector<ApprovalRecord> ApprovalStore::expire_due() {
  Fired fired;
  {
    std::lock_guard lock(mutex_);
    expire_locked(clock_(), fired);
  }
  std::vector<ApprovalRecord> expired;
  for (const auto& [record, callback] : fired.records) expired.push_back(record);
  fire(fired);
  return expired;
}

std::optional<std::chrono::system_clock::time_point> ApprovalStore::next_expiry() const {
  std::lock_guard lock(mutex_);
  std::optional<std::chrono::system_clock::time_point> earliest;
  for (const auto& [id, entry] : entries_) {
    if (entry.record.state != ApprovalState::pending) continue;
    if (!earliest || entry.record.expires < *earliest) earliest = entry.record.expires;
  }
  return earliest;
}

std::optional<ApprovalRecord> ApprovalStore::wait(std::string_view id, std::chrono::milliseconds max_wait) {
  {
    std::unique_lock lock(mutex_);
    const std::string key(id);
    decided_cv_.wait_for(lock, max_wait, [&] {
      auto it = entries_.find(key);
      return it == entries_.end() || it->second.record.state != ApprovalState::pending;
    });
  }
  return get(id);  // applies expiry by the injected clock
}

void ApprovalStore::set_notify_hook(Callback hook) {
  std::lock_guard lock(mutex_);
  notify_hook_ = std::move(hook);
}

void ApprovalStore::set_replication_hooks(Callback created, Callback decided) {
  std::lock_guard lock(mutex_);
  replica_created_ = std::move(created);
  replica_decided_ = std::move(decided);
}

void ApprovalStore::set_decision_hook(Callback hook) {
  std::lock_guard lock(mutex_);
  decision_hook_ = std::move(hook);
}

}  // namespace sallyport::governance

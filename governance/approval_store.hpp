#pragma once
// Pending approvals for tool calls whose policy action is require_approval (DESIGN.md
// "Governance"). The gateway creates a record and holds the call; an operator approves or denies
// it through the admin API (GET /admin/approvals, POST /admin/approvals/{id}); a call not decided
// before `expires` is denied with reason "approval:timeout".
//
// Async use (the gateway): create(request, on_decided) and keep streaming; on_decided fires
// exactly once — from decide() or from expire_due() (call it from a timer, e.g. every second, or
// at next_expiry()). Blocking use (CLI, tests): wait(id, max_wait).
// Callbacks and hooks run on the thread that made the decision, outside the store's lock; they
// may call back into the store.
//
// Listings never carry the raw arguments (only their SHA-256) unless include_args is set: tool
// arguments can hold secrets and the admin API output is copied into tickets and chats.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/decision.hpp"

namespace sallyport::governance {

namespace approval_reason {
inline constexpr const char* approved = "approval:approved";
inline constexpr const char* denied = "approval:denied";
inline constexpr const char* timeout = "approval:timeout";
inline constexpr const char* queue_full = "approval:queue-full";
inline constexpr const char* pending = "tool:approval-required";
}  // namespace approval_reason

enum class ApprovalState : unsigned char { pending, approved, denied, expired };
const char* to_string(ApprovalState state) noexcept;

struct ApprovalRequest {
  std::string sandbox;
  std::string tool;
  std::string args_json;  // hashed; kept only with ApprovalConfig::include_args
  std::string rule;       // the policy rule that required approval
  std::string call_id;    // provider call id, for the audit
};

struct ApprovalRecord {
  std::string id;  // 32 hex chars from 16 random bytes: unguessable
  std::string sandbox;
  std::string tool;
  std::string args_sha256;          // hex SHA-256 of the arguments text
  std::optional<std::string> args;  // only with include_args
  // Secrets redacted, controls escaped, at most ~200 bytes: enough for an operator to judge the
  // call from a notification without the full (possibly sensitive) arguments.
  std::string args_summary;
  std::string rule;
  std::string call_id;
  std::chrono::system_clock::time_point created;
  std::chrono::system_clock::time_point expires;
  ApprovalState state = ApprovalState::pending;
  std::string actor;   // who decided ("timeout" for expiry); untrusted text, truncated to 256
  std::string reason;  // why; untrusted text, truncated to 256
  std::optional<std::chrono::system_clock::time_point> decided;

  // allow "approval:approved", deny "approval:denied" / "approval:timeout", or while pending
  // deny "tool:approval-required"; rule = the policy rule, detail = "<actor>: <reason>".
  [[nodiscard]] Decision decision() const;
};

struct ApprovalConfig {
  std::chrono::seconds timeout{120};  // pending -> expired (deny)
  std::size_t max_pending = 256;      // create() refuses beyond this (deny "approval:queue-full")
  std::size_t max_history = 1024;     // decided records kept for status/listing
  bool include_args = false;          // keep raw arguments in records and listings
};

class ApprovalStore {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  using Callback = std::function<void(const ApprovalRecord&)>;

  explicit ApprovalStore(ApprovalConfig config = {}, Clock clock = std::chrono::system_clock::now);

  // New pending record, or std::nullopt when max_pending records are already pending.
  // `on_decided` fires once with the final record. The notify hook (webhook) fires for the new
  // record.
  std::optional<ApprovalRecord> create(const ApprovalRequest& request, Callback on_decided = {});

  enum class DecideStatus : unsigned char { decided, not_found, already_decided };
  struct DecideResult {
    DecideStatus status = DecideStatus::not_found;
    std::optional<ApprovalRecord> record;  // the final record (also when already decided)
  };
  // Approve or deny a pending record. A record past its expiry is expired instead
  // (status already_decided, state expired): late approvals never go through.
  DecideResult decide(std::string_view id, bool approve, std::string_view actor,
                      std::string_view reason);

  // Current state of one record (pending, decided, or unknown/forgotten).
  [[nodiscard]] std::optional<ApprovalRecord> get(std::string_view id);

  // Pending records, oldest first (expired ones are expired first).
  [[nodiscard]] std::vector<ApprovalRecord> list_pending();

  // Expires every pending record whose deadline has passed; returns them (for the audit).
  std::vector<ApprovalRecord> expire_due();

  // Earliest deadline among pending records (for the caller's timer).
  [[nodiscard]] std::optional<std::chrono::system_clock::time_point> next_expiry() const;

  // Blocks until the record is decided, or at most `max_wait` of real time; returns the record
  // (still pending if neither happened). Applies expiry by the injected clock before returning.
  std::optional<ApprovalRecord> wait(std::string_view id, std::chrono::milliseconds max_wait);

  // Called for every new pending record (the router sends the webhook from here).
  void set_notify_hook(Callback hook);
  // Called for every decision (approve, deny, timeout), e.g. to write the audit record.
  void set_decision_hook(Callback hook);
  // Fleet mode (governance/fleet_approvals.hpp): `created` sees every new pending record,
  // `decided` every decision made here, like the hooks above. Unset = local only.
  void set_replication_hooks(Callback created, Callback decided);

 private:
  struct Entry {
    ApprovalRecord record;
    Callback on_decided;
  };
  // Decisions made under the lock, delivered after it is released.
  struct Fired {
    std::vector<std::pair<ApprovalRecord, Callback>> records;
    Callback hook;  // decision_hook_ as it was when the decisions were made
    Callback replica;  // replica_decided_ likewise
  };

  void expire_locked(std::chrono::system_clock::time_point now, Fired& fired);
  void finish_locked(Entry& entry, Fired& fired);
  void fire(Fired& fired);

  const ApprovalConfig config_;
  const Clock clock_;
  mutable std::mutex mutex_;
  std::condition_variable decided_cv_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::deque<std::string> decided_order_;  // for max_history pruning
  std::size_t pending_count_ = 0;
  Callback notify_hook_;
  Callback decision_hook_;
  Callback replica_created_;
  Callback replica_decided_;
};

// Lower-case hex SHA-256 of `data` (OpenSSL).
std::string args_sha256_hex(std::string_view data);

// ApprovalRecord::args_summary for `args_json`: redact_secrets + escape_untrusted, cut at
// `max_bytes` (on a UTF-8 boundary) with "…" appended when cut.
std::string approval_args_summary(std::string_view args_json, std::size_t max_bytes = 200);

}  // namespace sallyport::governance

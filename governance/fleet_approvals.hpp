#pragma once
// Approval records shared by every replica of a tenant (state_backend kind redis, issue 12).
//
// The local ApprovalStore still holds the calls this process waits on; this class mirrors it:
//   created here  → the record (never its raw arguments) is written to RedisKeys::approval(id)
//                   with TTL = its remaining timeout + ttl_margin, and indexed for listings;
//   decide(id)    → any replica's admin API decides through the DECIDE script (only pending →
//                   approved/denied, and not after expires: of two deciders exactly one wins),
//                   then applies the outcome to its own store when the record is local;
//   poll()        → the caller's timer (router: every 250 ms) reads the shared state of the
//                   records created here and still pending locally, and applies decisions made
//                   elsewhere to the local store (the waiting request proceeds);
//   decided here  → (expiry, or a local fallback decision) written through the same script.
// Redis unreachable: creation stays local (the record is then decidable only on this replica),
// decide() falls back to the local store, and listings show the local records only.
// decide() and list_pending() block for at most call_deadline: call them from admin handlers,
// never from the sink's own thread.
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "governance/approval_store.hpp"
#include "governance/redis_command.hpp"
#include "governance/redis_scripts.hpp"

namespace sallyport::governance {

struct FleetApprovalOptions {
  RedisKeys keys;
  std::chrono::milliseconds ttl_margin{60000};
  std::chrono::milliseconds call_deadline{1000};  // blocking admin calls
  std::size_t list_limit = 256;
};

struct FleetApprovalHealth {
  std::uint64_t errors = 0;
  std::uint64_t published = 0;       // records written to Redis
  std::uint64_t applied_remote = 0;  // decisions made elsewhere applied here
  std::size_t watching = 0;          // local pending records being polled
};

class FleetApprovals {
 public:
  // `sink` and `store` must outlive this object and every callback handed to the sink.
  FleetApprovals(RedisCommandSink& sink, ApprovalStore& store, FleetApprovalOptions options);
  ~FleetApprovals();  // detaches from the store
  FleetApprovals(const FleetApprovals&) = delete;
  FleetApprovals& operator=(const FleetApprovals&) = delete;

  void attach();  // sets the store's replication hooks
  void detach();
  void poll();

  struct DecideResult {
    ApprovalStore::DecideStatus status = ApprovalStore::DecideStatus::not_found;
    std::optional<ApprovalRecord> record;
    bool unavailable = false;  // Redis did not answer and the id is not local (answer 503)
    std::string detail;        // why unavailable (no secrets)
  };
  DecideResult decide(std::string_view id, bool approve, std::string_view actor,
                      std::string_view reason);
  // Pending records of the whole tenant; nullopt when Redis did not answer.
  std::optional<std::vector<ApprovalRecord>> list_pending();

  [[nodiscard]] FleetApprovalHealth health() const;

  struct State;  // shared with in-flight callbacks (fleet_approvals.cpp)

 private:
  std::shared_ptr<State> state_;
};

}  // namespace sallyport::governance

#pragma once
// Trust scores shared by every replica of a tenant (state_backend kind redis, issue 12).
//
// The local TrustRegistry stays the floor and the thing every check reads; this class keeps it
// in step with Redis (key RedisKeys::trust(agent), 30-day TTL refreshed on every write):
//   write-through: each local penalty, reset and recovery is applied to the shared record by the
//     TRUST script (governance/fleet_scripts.hpp: atomic, floor 0, ceiling 1000, pause after a
//     violation, idempotent per mutation id); its answer is adopted when nothing else is in flight.
//   pull(): the caller's timer (router: every 250 ms) reads the shared record of every agent the
//     registry knows plus its own, and adopts a newer version (tier callbacks fire: quarantine,
//     kernel flag, audit). A penalty on replica A is seen by replica B within one pull period
//     plus one Redis round trip.
// Redis unreachable: the local registry keeps deciding; failed mutations are queued (bounded,
// oldest dropped) and resent by the next pull (and after any call that succeeds); nothing is
// adopted while any are queued or in flight, so a local penalty is never undone by a stale read.
// A shared record that does not exist leaves the local score as it is.
// Thread-safe; never blocks (every call is asynchronous through the sink).
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "governance/redis_command.hpp"
#include "governance/redis_scripts.hpp"
#include "governance/trust.hpp"

namespace sallyport::governance {

struct FleetTrustOptions {
  RedisKeys keys;
  std::int64_t ttl_seconds = 30 * 24 * 3600;
  std::size_t max_pending = 1000;
};

struct FleetTrustHealth {
  std::uint64_t errors = 0;   // calls that failed
  std::uint64_t adopted = 0;  // shared scores taken into the local registry
  std::uint64_t dropped = 0;  // queued mutations dropped (queue full)
  std::size_t pending = 0;    // mutations waiting to be resent
};

class FleetTrust {
 public:
  // `sink` and `registry` must outlive this object and every callback handed to the sink.
  FleetTrust(RedisCommandSink& sink, TrustRegistry& registry, FleetTrustOptions options);
  ~FleetTrust();  // detaches from the registry
  FleetTrust(const FleetTrust&) = delete;
  FleetTrust& operator=(const FleetTrust&) = delete;

  // Starts the write-through (sets the registry's mutation hook).
  void attach();
  // Stops it: no further writes, nothing adopted from answers still in flight.
  void detach();
  // Reads the shared records of the known agents and `own_agent`; adopts newer ones. With
  // queued mutations it resends them instead.
  void pull(const std::string& own_agent);

  [[nodiscard]] FleetTrustHealth health() const;

  struct State;  // shared with in-flight callbacks (fleet_trust.cpp)

 private:
  std::shared_ptr<State> state_;
};

}  // namespace sallyport::governance

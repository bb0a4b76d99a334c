#pragma once
// Builds the configured state backend (config state_backend) and exposes its health:
//   kind "local" → no shared backend (the gateway's own BudgetLedger/RateLimiter, as always);
//   kind "redis" → RedisClient pool (router/redis_client.hpp) + governance::RedisStateBackend,
//                  which the gateway consults after its local checks (local = the floor).
// Metrics: sallyport_state_backend_up{kind} (1/0), sallyport_state_backend_errors_total{kind},
// sallyport_state_backend_fail_open_total{kind}, refreshed every 500 ms.
// Readiness: component "state_backend" is ready when the store is up, or when it is down and
// on_unavailable is fail_open (the sidecar still serves); detail in GET /admin/state_backend.
// Fleet trust and approvals (attach_governance): governance::FleetTrust and FleetApprovals,
// synced every kFleetSyncInterval (250 ms): a trust change or approval decision made on one
// replica is seen by the others within that plus one Redis round trip.
// The Redis pool runs on its own thread (io_context), so admin handlers may wait for a Redis
// answer (bounded by the deadline) without starving the pool, whatever worker_threads is.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "config/config.hpp"
#include "governance/fleet_approvals.hpp"
#include "governance/fleet_trust.hpp"
#include "governance/redis_state_backend.hpp"
#include "governance/state_backend.hpp"
#include "router/redis_client.hpp"

namespace sallyport::router {

class StateBackendService;

struct StateBackendServiceResult {
  std::unique_ptr<StateBackendService> service;
  std::string error;  // start-up error: what and where (JSON pointer)
};

class StateBackendService {
 public:
  static StateBackendServiceResult build(boost::asio::io_context& ioc, const config::Config& cfg,
                                         prometheus::Registry& registry);
  ~StateBackendService();
  StateBackendService(const StateBackendService&) = delete;
  StateBackendService& operator=(const StateBackendService&) = delete;

  void start();
  void stop();

  // Kind redis: shares `trust` scores (of `agent` and every agent it knows) and `approvals`
  // with the fleet. Either may be null. Call before start(); no-op for kind local.
  void attach_governance(governance::TrustRegistry* trust, std::string agent,
                         governance::ApprovalStore* approvals);

  // The shared backend the gateway consults; nullptr for kind local.
  [[nodiscard]] governance::StateBackend* shared() const noexcept { return redis_backend_.get(); }
  // Fleet approvals for the admin API; nullptr for kind local or without an approval store.
  [[nodiscard]] governance::FleetApprovals* fleet_approvals() const noexcept { return fleet_approvals_.get(); }
  [[nodiscard]] governance::StateBackendHealth health() const;
  [[nodiscard]] bool ready() const;
  [[nodiscard]] nlohmann::json admin_json() const;

 private:
  StateBackendService(boost::asio::io_context& ioc, const config::Config& cfg,
                      prometheus::Registry& registry);
  void refresh_metrics();
  void schedule_refresh();
  void schedule_fleet_sync();
  void stop_redis_thread();

  std::string kind_;
  governance::OnUnavailable on_unavailable_ = governance::OnUnavailable::fail_closed;
  std::chrono::milliseconds redis_timeout_{50};
  // The pool's own event loop (declared before the client, which uses it).
  boost::asio::io_context redis_ioc_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> redis_work_;
  std::thread redis_thread_;
  std::atomic<bool> redis_thread_done_{false};
  std::unique_ptr<RedisClient> client_;
  std::unique_ptr<governance::RedisStateBackend> redis_backend_;
  std::unique_ptr<governance::FleetTrust> fleet_trust_;
  std::unique_ptr<governance::FleetApprovals> fleet_approvals_;
  std::string agent_;
  prometheus::Gauge& up_;
  prometheus::Counter& errors_;
  prometheus::Counter& fail_open_;
  std::uint64_t errors_seen_ = 0, fail_open_seen_ = 0;
  boost::asio::steady_timer refresh_timer_;
  boost::asio::steady_timer fleet_timer_;
  bool stopped_ = false;
};

// Admission through a backend from a coroutine: resumes on the caller's executor, at the latest
// when the backend's deadline passes.
boost::asio::awaitable<governance::AdmitResult> async_admit(governance::StateBackend& backend,
                                                            governance::AdmitRequest request);

}  // namespace sallyport::router

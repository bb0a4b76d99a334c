// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include "router/state_backend_service.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/log.hpp"
#include "config/loader.hpp"

#include <mutex>
#include <optional>

namespace sallyport::router {
namespace {

namespace asio = boost::asio;
constexpr std::chrono::milliseconds kRefreshInterval{500};
constexpr std::chrono::milliseconds kFleetSyncInterval{250};

RedisClientOptions client_options(const config::StateBackend& sb, RedisEndpoint endpoint) {
  RedisClientOptions o;
  o.endpoint = std::move(endpoint);
  o.ca_file = sb.ca_file;
  o.server_name = sb.server_name;
  o.username = sb.username;
  if (sb.password) {
    o.password = [ref = *sb.password]() -> std::pair<std::optional<std::string>, std::string> {
      auto secret = config::resolve_secret(ref);
      if (!secret.value) return {std::nullopt, ref.describe() + " is unavailable: " + secret.error};
      return {std::move(secret.value), {}};
    };
  }
  o.pool_size = sb.pool_size;
  o.timeout = sb.timeout;
  o.connect_timeout = sb.connect_timeout;
  return o;
}

}  // namespace

StateBackendService::StateBackendService(asio::io_context& ioc, const config::Config& cfg,
                                         prometheus::Registry& registry)
    : kind_(cfg.state_backend.kind),
      up_(prometheus::BuildGauge()
              .Name("sallyport_state_backend_up")
              .Help("1 when the state backend answers (always 1 for kind local), else 0.")
              .Register(registry)
              .Add({{"kind", cfg.state_backend.kind}})),
      errors_(prometheus::BuildCounter()
                  .Name("sallyport_state_backend_errors_total")
                  .Help("State backend calls that failed (timeout, connection, script error).")
                  .Register(registry)
                  .Add({{"kind", cfg.state_backend.kind}})),
      fail_open_(prometheus::BuildCounter()
                     .Name("sallyport_state_backend_fail_open_total")
                     .Help("Model requests admitted on local limits only while the shared state "
                           "backend was unavailable (on_unavailable fail_open).")
                     .Register(registry)
                     .Add({{"kind", cfg.state_backend.kind}})),
      refresh_timer_(ioc),
      fleet_timer_(ioc) {
  up_.Set(1);
}

StateBackendServiceResult StateBackendService::build(asio::io_context& ioc, const config::Config& cfg,
                                                     prometheus::Registry& registry) {
  StateBackendServiceResult result;
  const auto& sb = cfg.state_backend;
  std::unique_ptr<StateBackendService> service(new StateBackendService(ioc, cfg, registry));
  if (sb.kind != "redis") {
    result.service = std::move(service);
    return result;
  }
  auto endpoint = parse_redis_url(sb.url);
  if (!endpoint.endpoint) {
    result.error = "/state_backend/url: " + endpoint.error;
    return result;
  }
  const auto policy = governance::parse_on_unavailable(sb.on_unavailable);
  if (!policy) {
    result.error = "/state_backend/on_unavailable: expected fail_closed or fail_open";
    return result;
  }
  service->on_unavailable_ = *policy;
  try {
    service->client_ = std::make_unique<RedisClient>(service->redis_ioc_.get_executor(),
                                                     client_options(sb, std::move(*endpoint.endpoint)));
    service->redis_timeout_ = sb.timeout;
  } catch (const std::exception& e) {
    result.error = e.what();
    return result;
  }
  governance::RedisBackendOptions options;
  options.keys.prefix = sb.key_prefix;
  options.keys.tenant = config::resolve_value(cfg.identity.tenant);
  options.keys.sandbox = config::resolve_value(cfg.identity.sandbox);
  if (options.keys.tenant.empty()) options.keys.tenant = "default";
  if (options.keys.sandbox.empty()) options.keys.sandbox = "default";
  options.tenant_daily_tokens = static_cast<std::int64_t>(sb.tenant_daily_tokens);
  options.sandbox_daily_tokens = static_cast<std::int64_t>(cfg.budgets.daily_tokens);
  options.tenant_rpm = sb.tenant_rpm;
  options.tenant_tpm = static_cast<std::int64_t>(sb.tenant_tpm);
  options.on_unavailable = *policy;
  service->redis_backend_ = std::make_unique<governance::RedisStateBackend>(*service->client_, std::move(options));
  result.service = std::move(service);
  return result;
}

StateBackendService::~StateBackendService() { stop(); }

void StateBackendService::attach_governance(governance::TrustRegistry* trust, std::string agent,
                                            governance::ApprovalStore* approvals) {
  if (!redis_backend_) return;
  const auto& keys = redis_backend_->options().keys;
  agent_ = std::move(agent);
  if (trust) {
    fleet_trust_ = std::make_unique<governance::FleetTrust>(*client_, *trust, governance::FleetTrustOptions{keys});
  }
  if (approvals) {
    governance::FleetApprovalOptions options;
    options.keys = keys;
    // EVALSHA, and EVAL once more when the server lost its script cache.
    options.call_deadline = 2 * redis_timeout_ + std::chrono::milliseconds(100);
    fleet_approvals_ = std::make_unique<governance::FleetApprovals>(*client_, *approvals, options);
  }
}

void StateBackendService::start() {
  if (!client_) return;
  up_.Set(0);
  redis_work_.emplace(redis_ioc_.get_executor());
  redis_thread_ = std::thread([this] {
    redis_ioc_.run();
    redis_thread_done_.store(true);
  });
  client_->start();
  if (fleet_trust_) fleet_trust_->attach();
  if (fleet_approvals_) fleet_approvals_->attach();
  schedule_refresh();
  schedule_fleet_sync();
  log::info("state_backend", "shared state backend configured",
            {{"kind", kind_},
             {"on_unavailable", on_unavailable_ == governance::OnUnavailable::fail_open ? "fail_open" : "fail_closed"},
             {"tenant", redis_backend_->options().keys.tenant}});
}

void StateBackendService::stop() {
  if (stopped_) return;
  stopped_ = true;
  refresh_timer_.cancel();
  fleet_timer_.cancel();
  if (fleet_trust_) fleet_trust_->detach();
  if (fleet_approvals_) fleet_approvals_->detach();
  if (client_) client_->stop();
  stop_redis_thread();
}

// Lets the pool fail its pending commands (their callbacks run), bounded by a short deadline.
void StateBackendService::stop_redis_thread() {
  if (!redis_thread_.joinable()) return;
  redis_work_.reset();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!redis_thread_done_.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  redis_ioc_.stop();
  redis_thread_.join();
}

void StateBackendService::schedule_fleet_sync() {
  if (!fleet_trust_ && !fleet_approvals_) return;
  fleet_timer_.expires_after(kFleetSyncInterval);
  fleet_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    if (fleet_trust_) fleet_trust_->pull(agent_);
    if (fleet_approvals_) fleet_approvals_->poll();
    schedule_fleet_sync();
  });
}

void StateBackendService::schedule_refresh() {
  refresh_timer_.expires_after(kRefreshInterval);
  refresh_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    refresh_metrics();
    schedule_refresh();
  });
}

void StateBackendService::refresh_metrics() {
  const auto h = health();
  up_.Set(h.up ? 1 : 0);
  if (h.errors > errors_seen_) errors_.Increment(static_cast<double>(h.errors - errors_seen_));
  errors_seen_ = h.errors;
  if (h.admitted_without_store > fail_open_seen_) {
    fail_open_.Increment(static_cast<double>(h.admitted_without_store - fail_open_seen_));
  }
  fail_open_seen_ = h.admitted_without_store;
}

governance::StateBackendHealth StateBackendService::health() const {
  if (redis_backend_) return redis_backend_->health();
  governance::StateBackendHealth h;
  h.kind = kind_;
  return h;
}

bool StateBackendService::ready() const {
  return !redis_backend_ || on_unavailable_ == governance::OnUnavailable::fail_open || health().up;
}

nlohmann::json StateBackendService::admin_json() const {
  const auto h = health();
  nlohmann::json j{{"kind", h.kind}, {"up", h.up}, {"errors", h.errors},
                   {"admitted_without_store", h.admitted_without_store},
                   {"settles_pending", h.settles_pending}, {"ready", ready()}};
  if (redis_backend_) {
    const auto& o = redis_backend_->options();
    j["on_unavailable"] = on_unavailable_ == governance::OnUnavailable::fail_open ? "fail_open" : "fail_closed";
    j["tenant"] = o.keys.tenant;
    j["sandbox"] = o.keys.sandbox;
    j["live_connections"] = client_->live_connections();
    j["reconnects"] = client_->reconnects();
    if (!h.detail.empty()) j["detail"] = h.detail;
    if (fleet_trust_) {
      const auto t = fleet_trust_->health();
      j["trust"] = {{"errors", t.errors}, {"adopted", t.adopted}, {"pending", t.pending}, {"dropped", t.dropped}};
    }
    if (fleet_approvals_) {
      const auto a = fleet_approvals_->health();
      j["approvals"] = {{"errors", a.errors}, {"published", a.published},
                        {"applied_remote", a.applied_remote}, {"watching", a.watching}};
    }
  }
  return j;
}

namespace {
// Shared between the waiting coroutine and the backend's callback (another thread), the same
// pattern as the gateway's concurrency-slot waiter: the callback stores the result and cancels
// the timer through the coroutine's executor.
struct AdmitWaiter {
  explicit AdmitWaiter(asio::any_io_executor ex) : timer(std::move(ex)) {}
  asio::steady_timer timer;
  std::mutex mutex;
  std::optional<governance::AdmitResult> result;
};
// Safety net only: the backend answers within its own deadline.
constexpr std::chrono::seconds kAdmitBackstop{10};
}  // namespace

asio::awaitable<governance::AdmitResult> async_admit(governance::StateBackend& backend,
                                                     governance::AdmitRequest request) {
  auto executor = co_await asio::this_coro::executor;
  auto waiter = std::make_shared<AdmitWaiter>(executor);
  waiter->timer.expires_after(kAdmitBackstop);
  backend.admit(request, [waiter](governance::AdmitResult result) {
    {
      std::lock_guard lock(waiter->mutex);
      waiter->result = std::move(result);
    }
    asio::post(waiter->timer.get_executor(), [waiter] { waiter->timer.cancel(); });
  });
  {
    std::lock_guard lock(waiter->mutex);
    if (waiter->result) co_return std::move(*waiter->result);
  }
  co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  std::lock_guard lock(waiter->mutex);
  if (waiter->result) co_return std::move(*waiter->result);
  governance::AdmitResult late;
  late.decision = Decision::deny("budget:unavailable", "state_backend", "no answer from the state backend");
  late.retry_after_seconds = 1;
  late.backend_unavailable = true;
  co_return late;
}

}  // namespace sallyport::router

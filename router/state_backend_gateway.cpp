// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
// The gateway's fleet admission step (state_backend kind redis), after the local rate and
// budget checks of take_rate_and_budget(): the same tokens are reserved tenant- and
// sandbox-wide in the shared store, and taken from the tenant rpm/tpm buckets.
//   deny from the store  → the local reservation is released; 429 as for local limits.
//   store unavailable    → fail_closed: 503 "budget:unavailable" (rule state_backend:redis),
//                          Retry-After 1, no trust penalty; fail_open: served on local limits.
#include "router/gateway_exchange.hpp"
#include "router/state_backend_service.hpp"

namespace sallyport::router {

boost::asio::awaitable<std::optional<governance::ApiErrorResponse>> GatewayExchange::take_shared_state() {
  auto* backend = gw_.deps.shared_state;
  if (!backend) co_return std::nullopt;
  const bool embeddings = route_.route == GatewayRoute::embeddings ||
                          route_.route == GatewayRoute::azure_embeddings;
  const std::int64_t max_output = embeddings ? 0 : facts_.max_output_tokens.value_or(0);
  governance::AdmitRequest request;
  request.rate_tokens = facts_.prompt_estimate + max_output;
  request.reserve_tokens = reservation_ ? reservation_->reserved_tokens : request.rate_tokens;
  auto admitted = co_await async_admit(*backend, request);
  if (admitted.decision.allowed()) {
    shared_ticket_ = std::move(admitted.ticket);
    co_return std::nullopt;
  }
  settle(std::nullopt, false);  // gives the local reservation and rate tokens back
  const auto& reason = admitted.decision.reason;
  const std::string_view kind = admitted.backend_unavailable ? "state_backend"
                                : reason.rfind("rate:", 0) == 0 ? "rate"
                                                                : "budget";
  std::optional<std::int64_t> retry;
  if (admitted.retry_after_seconds > 0) retry = admitted.retry_after_seconds;
  co_return deny(admitted.decision, kind, retry);
}

void GatewayExchange::settle_shared(std::optional<std::int64_t> charged) {
  auto* backend = gw_.deps.shared_state;
  if (!backend || !shared_ticket_) return;
  if (charged) {
    backend->settle(*shared_ticket_, *charged);
  } else {
    backend->release(*shared_ticket_);
  }
  shared_ticket_.reset();
}

}  // namespace sallyport::router

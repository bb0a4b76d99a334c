// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (the awaitable frame's
// operator new/delete pair is Asio's own recycling allocator).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include "router/gateway_exchange.hpp"

#include "common/log.hpp"
#include "router/version.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <cstdio>

namespace sallyport::router {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using governance::ApiErrorKind;
using governance::ApiFlavor;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// How long a request may wait in the concurrency queue before 503 overloaded.
constexpr std::chrono::seconds kQueueWait{30};

// Shared between a queued request and the limiter's callback (which runs on another thread).
struct SlotWaiter {
  explicit SlotWaiter(asio::any_io_executor ex) : timer(std::move(ex)) {}
  asio::steady_timer timer;
  std::mutex mutex;
  std::optional<governance::ConcurrencyPermit> permit;
};

}  // namespace

asio::awaitable<bool> handle_gateway_request(InferenceGateway::Impl& gw, beast::tcp_stream& client,
                                             HttpRequest& request) {
  GatewayExchange exchange(gw, client, request);
  co_return co_await exchange.run();
}

GatewayExchange::GatewayExchange(InferenceGateway::Impl& gw, beast::tcp_stream& client,
                                 HttpRequest& req)
    : gw_(gw), client_(client), req_(req) {}

asio::awaitable<bool> GatewayExchange::run() {
  const auto lookup = match_route(req_.method(), req_.target());
  flavor_ = lookup.flavor;
  if (!lookup.match) {
    const bool wrong_method = lookup.status == 405;
    co_return co_await reply_error(governance::make_api_error(
        wrong_method ? ApiErrorKind::bad_request : ApiErrorKind::not_found,
        wrong_method ? "method not allowed on this path" : "unknown path", flavor_));
  }
  route_ = *lookup.match;
  if (route_.route == GatewayRoute::models) {
    finish(200, "allow", "models");
    co_return co_await reply(200, models_list_json(gw_.cfg.providers), "application/json", {});
  }
  if (auto error = check_request()) co_return co_await reply_error(*error);
  if (auto error = check_policy()) co_return co_await reply_error(*error);
  if (auto error = take_rate_and_budget()) co_return co_await reply_error(*error);
  if (auto error = co_await take_shared_state()) co_return co_await reply_error(*error);
  if (auto error = co_await acquire_slot()) co_return co_await reply_error(*error);
  co_return co_await forward();
}

// JSON, request facts, provider.
std::optional<governance::ApiErrorResponse> GatewayExchange::check_request() {
  auto parsed = governance::parse_json(req_.body());
  if (!parsed || !parsed->is_object()) {
    return governance::make_api_error(ApiErrorKind::bad_request,
                                      "request body must be a JSON object", flavor_);
  }
  body_ = std::move(*parsed);
  auto facts = governance::read_request_facts(body_, flavor_);
  if (!facts.facts) {
    return governance::make_api_error(ApiErrorKind::bad_request,
                                      governance::sanitize_error_text(facts.error), flavor_);
  }
  facts_ = std::move(*facts.facts);
  model_ = route_.deployment.empty() ? facts_.model : route_.deployment;
  if (model_.empty()) {
    return governance::make_api_error(ApiErrorKind::bad_request,
                                      "/model: expected the model name (a string)", flavor_);
  }
  provider_ = select_provider(gw_.cfg.providers, route_, model_);
  if (!provider_) {
    return governance::make_api_error(
        ApiErrorKind::no_provider,
        gw_.cfg.providers.empty() ? "no provider configured"
                                  : "no provider configured for this model and API",
        flavor_);
  }
  const auto& base = gw_.base_urls.at(provider_->name);
  if (!base.url) {
    return governance::make_api_error(ApiErrorKind::no_provider,
                                      "provider base_url is invalid (see sallyport log)", flavor_);
  }
  base_ = &*base.url;
  return std::nullopt;
}

// Trust quarantine, prompt shield, request tool stripping.
std::optional<governance::ApiErrorResponse> GatewayExchange::check_policy() {
  auto& deps = gw_.deps;
  if (deps.audit_available && !deps.audit_available()) {
    finish(503, "deny", "audit:unavailable", "audit.on_failure");
    return governance::make_api_error(ApiErrorKind::overloaded,
                                      "the audit log cannot record requests (audit.on_failure is fail_closed)",
                                      flavor_, 5, "audit_unavailable");
  }
  if (deps.trust && deps.trust->status(deps.agent).quarantined()) {
    return deny(Decision::deny("trust:below-threshold", "quarantine",
                               "agent is quarantined; an operator must reset its trust"),
                "trust");
  }
  if (deps.prompt_shield) {
    const auto scan = deps.prompt_shield->scan_request(body_, flavor_);
    if (!scan.matched_ids.empty()) {
      if (deps.trust && !scan.decision.allowed()) {
        deps.trust->penalize(deps.agent, governance::TrustEvent::jailbreak, scan.decision.rule);
      }
      if (!scan.decision.allowed()) return deny(scan.decision, "shield");
      gw_.emit({"shield", "allow", scan.decision.reason, scan.decision.rule, provider_->name,
                model_, 0, 0, 0, "observe mode: " + scan.decision.detail});
    }
  }
  // Offered tools (before stripping) decide whether streamed answers go through the tool-call
  // filter: an agent that offered none cannot run a call, and unfiltered streams stay raw bytes.
  request_has_tools_ = body_.contains("tools") || body_.contains("functions");
  if (tools_active()) {
    tool_policy_ = deps.tool_policy->current();
    if (tool_policy_) {
      auto stripped = governance::strip_denied_tools(body_, flavor_, *tool_policy_, trust_input());
      record_tool_verdicts(stripped.removed, "tool_request");
    }
  }
  return std::nullopt;
}

std::optional<governance::ApiErrorResponse> GatewayExchange::take_rate_and_budget() {
  auto& deps = gw_.deps;
  const bool embeddings = route_.route == GatewayRoute::embeddings ||
                          route_.route == GatewayRoute::azure_embeddings;
  const std::int64_t max_output = embeddings ? 0 : facts_.max_output_tokens.value_or(0);
  if (deps.rate_limiter) {
    auto rate = deps.rate_limiter->check(facts_.prompt_estimate + max_output);
    rate_headers_ = rate.headers.to_list();
    if (!rate.decision.allowed()) {
      return deny(rate.decision, "rate", rate.retry_after_seconds);
    }
    rate_tokens_ = facts_.prompt_estimate + max_output;
  }
  if (deps.budget) {
    governance::ReserveRequest request{facts_.prompt_estimate,
                                       embeddings ? std::optional<std::int64_t>(0)
                                                  : facts_.max_output_tokens};
    auto reserved = deps.budget->reserve(request);
    if (!reserved.decision.allowed()) {
      if (deps.rate_limiter && rate_tokens_) deps.rate_limiter->adjust_tokens(-rate_tokens_);
      rate_tokens_ = 0;
      return deny(reserved.decision, "budget");
    }
    reservation_ = reserved.reservation;
    if (!embeddings && reservation_ && reservation_->max_output_tokens) {
      governance::set_max_output_tokens(
          body_, flavor_, *reservation_->max_output_tokens,
          route_.route == GatewayRoute::responses ? "max_output_tokens" : std::string_view{});
    }
  }
  return std::nullopt;
}

asio::awaitable<std::optional<governance::ApiErrorResponse>> GatewayExchange::acquire_slot() {
  auto* limiter = gw_.deps.concurrency;
  if (!limiter) co_return std::nullopt;
  auto waiter = std::make_shared<SlotWaiter>(client_.get_executor());
  waiter->timer.expires_after(kQueueWait);
  auto result = limiter->try_acquire([waiter](governance::ConcurrencyPermit permit) {
    {
      std::lock_guard lock(waiter->mutex);
      waiter->permit = std::move(permit);
    }
    asio::post(waiter->timer.get_executor(), [waiter] { waiter->timer.cancel(); });
  });
  if (result.status == governance::AcquireStatus::granted) {
    permit_ = std::move(result.permit);
    co_return std::nullopt;
  }
  if (result.status == governance::AcquireStatus::rejected) {
    settle(std::nullopt, false);
    co_return deny(result.decision, "rate", 1);
  }
  co_await waiter->timer.async_wait(kTuple);
  {
    std::lock_guard lock(waiter->mutex);
    if (waiter->permit) {
      permit_ = std::move(*waiter->permit);
      co_return std::nullopt;
    }
  }
  if (!limiter->cancel(result.ticket)) {
    // The permit is being handed over right now: wait for the callback's post.
    waiter->timer.expires_after(std::chrono::seconds(5));
    co_await waiter->timer.async_wait(kTuple);
    std::lock_guard lock(waiter->mutex);
    if (waiter->permit) {
      permit_ = std::move(*waiter->permit);
      co_return std::nullopt;
    }
  }
  settle(std::nullopt, false);
  co_return deny(Decision::deny("rate:concurrency", "queue-timeout"), "rate", 1);
}

governance::ApiErrorResponse GatewayExchange::deny(const Decision& decision, std::string_view kind,
                                                   std::optional<std::int64_t> retry_after) {
  auto& deps = gw_.deps;
  if (deps.trust && (kind == "budget" || (kind == "rate" && decision.reason != "rate:concurrency"))) {
    deps.trust->penalize(deps.agent, governance::TrustEvent::budget_exhausted, decision.reason);
  }
  violation_ = true;
  gw_.emit({std::string(kind), "deny", decision.reason, decision.rule,
            provider_ ? provider_->name : "", model_, 0, 0, 0, decision.detail});
  auto error = governance::api_error_for_decision(decision, flavor_, retry_after);
  if (kind == "rate") error.headers.insert(error.headers.end(), rate_headers_.begin(), rate_headers_.end());
  finish(error.status, "deny", decision.reason, decision.rule);
  return error;
}

// ---- answers --------------------------------------------------------------------------------------

asio::awaitable<bool> GatewayExchange::reply_error(const governance::ApiErrorResponse& error) {
  if (!finished_) {
    const std::string reason = error.status == 404 ? "route:not-found" : "request:invalid";
    finish(error.status, "deny", reason);
  }
  co_return co_await reply(static_cast<unsigned>(error.status), error.body, "application/json",
                           error.headers);
}

asio::awaitable<bool> GatewayExchange::reply(unsigned status, std::string body,
                                             std::string_view content_type,
                                             const HeaderList& extra) {
  HttpResponse res{static_cast<http::status>(status), req_.version() ? req_.version() : 11};
  res.set(http::field::content_type, content_type);
  for (const auto& [name, value] : extra) res.set(name, value);
  add_common_headers(res);
  res.body() = std::move(body);
  res.keep_alive(req_.keep_alive() && !gw_.stopping.load());
  res.prepare_payload();
  client_.expires_after(gw_.cfg.gateway.idle_timeout);
  auto [ec, n] = co_await http::async_write(client_, res, kTuple);
  co_return !ec && res.keep_alive();
}

void GatewayExchange::add_common_headers(http::fields& fields) const {
  fields.set(http::field::server, std::string("sallyport/") + std::string(kVersion));
  fields.set("x-sallyport-budget-remaining", gw_.budget_remaining_header());
  char overhead[32];
  std::snprintf(overhead, sizeof overhead, "%.3f", overhead_ms());
  fields.set("X-Sallyport-Overhead-Ms", overhead);
}

double GatewayExchange::overhead_ms() const {
  const auto spent = Clock::now() - started_ - upstream_wait_;
  return std::chrono::duration<double, std::milli>(spent).count();
}

void GatewayExchange::settle(const std::optional<governance::TokenUsage>& usage, bool billed) {
  if (settled_) return;
  settled_ = true;
  auto& deps = gw_.deps;
  std::int64_t charged = 0;
  if (usage) {
    charged = usage->total_tokens ? usage->total_tokens : usage->input_tokens + usage->output_tokens;
    prompt_tokens_ = static_cast<std::uint64_t>(std::max<std::int64_t>(0, usage->input_tokens));
    completion_tokens_ = static_cast<std::uint64_t>(std::max<std::int64_t>(0, usage->output_tokens));
    const auto label = gw_.metrics.model_label(model_);
    gw_.metrics.tokens.Add({{"model", label}, {"direction", "input"}}).Increment(static_cast<double>(prompt_tokens_));
    gw_.metrics.tokens.Add({{"model", label}, {"direction", "output"}}).Increment(static_cast<double>(completion_tokens_));
  } else if (billed && reservation_) {
    charged = reservation_->reserved_tokens;
  }
  if (deps.budget && reservation_) {
    if (usage || billed) {
      deps.budget->settle(reservation_->id, charged);
    } else {
      deps.budget->release(reservation_->id);
    }
  }
  if (deps.rate_limiter && rate_tokens_) deps.rate_limiter->adjust_tokens(charged - rate_tokens_);
  rate_tokens_ = 0;
  settle_shared(usage || billed ? std::optional<std::int64_t>(charged) : std::nullopt);
}

void GatewayExchange::finish(int status, std::string_view decision, std::string_view reason,
                             std::string_view rule) {
  if (finished_) return;
  finished_ = true;
  const std::string provider = provider_ ? provider_->name : "none";
  gw_.metrics.requests
      .Add({{"route", to_string(route_.route)}, {"provider", provider}, {"status", std::to_string(status)}})
      .Increment();
  auto& deps = gw_.deps;
  if (deps.trust && status == 200 && !violation_ && route_.route != GatewayRoute::models) {
    deps.trust->record_clean(deps.agent);
  }
  gw_.emit({"model_request", std::string(decision), std::string(reason), std::string(rule), provider,
            model_, prompt_tokens_, completion_tokens_, status, {}});
  log::debug("gateway", "request",
             {{"route", to_string(route_.route)}, {"provider", provider}, {"model", model_},
              {"status", status}, {"reason", reason}, {"prompt_tokens", prompt_tokens_},
              {"completion_tokens", completion_tokens_}, {"overhead_ms", overhead_ms()}});
}

}  // namespace sallyport::router

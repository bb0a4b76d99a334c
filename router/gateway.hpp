#pragma once
// The inference gateway on :8080 (shared/DESIGN.md "Listeners", "Governance"): the agent's model
// traffic (OpenAI, Azure OpenAI, Anthropic) enters here with a dummy key and leaves with the
// provider's real key, after the governance checks; answers stream back event by event.
//
// Per request, in this order (one place; every deny is an OpenAI- or Anthropic-shaped error):
//   route (404/405) → JSON + schema facts (400) → provider by model glob (503 no provider) →
//   prompt shield (403 shield:jailbreak) → tool stripping (denied tools removed, recorded) →
//   rate limits rpm/tpm (429 + Retry-After + x-ratelimit-*) → budget reserve (429 budget:*) →
//   concurrency slot (queue, else 503 overloaded) → upstream (retry only connect failures and
//   502/503 before any byte went to the agent) → answer: usage settles the budget, content
//   safety floor on the body or every streamed chunk (403 / stream error event), tool calls in
//   responses and streams judged (denied → refusal text, approvals held until decided).
// Every answer carries x-sallyport-budget-remaining and X-Sallyport-Overhead-Ms.
// The agent's Authorization / api-key / x-api-key never go upstream; provider keys are resolved
// from env/file (config::resolve_secret), cached for a minute, and never logged or echoed.
#include "blocklist/egress_policy.hpp"
#include "config/config.hpp"
#include "governance/approval_store.hpp"
#include "governance/budget_ledger.hpp"
#include "governance/content_safety.hpp"
#include "governance/fleet_approvals.hpp"
#include "governance/prompt_shield.hpp"
#include "governance/rate_limiter.hpp"
#include "governance/state_backend.hpp"
#include "governance/tool_policy.hpp"
#include "governance/trust.hpp"
#include "router/http_server.hpp"
#include "router/upstream_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/verb.hpp>
#include <prometheus/registry.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace sallyport::router {

// One gateway decision or outcome, for the audit log / SIEM / trust scoring.
// kind: "model_request" (one per request, the final outcome), "shield", "safety", "tool_request"
// (a tool stripped from a request), "tool_call" (a call in a response), "budget", "rate",
// "upstream" (upstream failure). decision: "allow" | "deny".
struct GatewayEvent {
  std::string kind, decision, reason, rule, provider, model;
  std::uint64_t prompt_tokens = 0, completion_tokens = 0;
  int status = 0;
  std::string detail;  // may hold untrusted text (tool names); never prompt text or keys
};

// Governance objects the gateway consults; every one optional (nullptr / nullopt = feature off).
// The caller owns them and keeps them alive longer than the gateway.
struct GatewayDeps {
  governance::BudgetLedger* budget = nullptr;
  governance::RateLimiter* rate_limiter = nullptr;
  governance::ConcurrencyLimiter* concurrency = nullptr;
  std::shared_ptr<const governance::PromptShield> prompt_shield;
  std::optional<governance::SafetyPolicy> safety;  // content-safety floor on answers
  governance::ToolPolicyStore* tool_policy = nullptr;
  governance::ApprovalStore* approvals = nullptr;  // require_approval → pending; null = deny
  // Trust of this sandbox's agent: tool min_trust / threshold, penalties (jailbreak, denied
  // tool, budget or rate exhaustion), recovery on clean requests; quarantine (tier 0) denies all
  // model traffic with 403 "trust:below-threshold" (rule "quarantine").
  governance::TrustRegistry* trust = nullptr;
  // Fleet state (state_backend kind redis): consulted after the local rate/budget checks, which
  // stay the floor; fail_closed outages answer 503 (router/state_backend_gateway.cpp).
  governance::StateBackend* shared_state = nullptr;
  // Fleet approvals (state_backend kind redis): the admin API decides and lists through it.
  governance::FleetApprovals* fleet_approvals = nullptr;
  std::string agent = "default";  // identity.sandbox: the trust and approval key
  // audit.on_failure "fail_closed": while this returns false (the audit log cannot record, e.g.
  // disk full) every model request is refused with 503 "audit:unavailable". Empty = never refuse.
  std::function<bool()> audit_available;
};

// Admin routes are handed to the caller through this (AdminApi::add_route fits it directly).
using AdminRouteAdder = std::function<void(boost::beast::http::verb, std::string,
                                           std::function<HttpResponse(const HttpRequest&)>)>;

class InferenceGateway {
 public:
  InferenceGateway(boost::asio::io_context& ioc, const config::Config& cfg, PolicySource egress_policy,
                   GatewayDeps deps, prometheus::Registry& metrics,
                   std::function<void(const GatewayEvent&)> on_event);
  ~InferenceGateway();
  InferenceGateway(const InferenceGateway&) = delete;
  InferenceGateway& operator=(const InferenceGateway&) = delete;

  boost::system::error_code start();  // binds cfg.listeners.gateway (port 0 allowed)
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  void stop();       // closes the listener; in-flight requests finish
  void close_all();  // also cuts open client connections (drain deadline passed)
  std::size_t active_requests() const;

  // GET/POST /admin/budget, GET /admin/approvals, POST /admin/approvals/{id},
  // GET/POST /admin/trust (only the routes whose dependency is present).
  void register_admin_routes(const AdminRouteAdder& add);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace sallyport::router

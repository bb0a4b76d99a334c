#include "router/approval_notifier.hpp"

#include "common/log.hpp"
#include "config/loader.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <array>

namespace sallyport::router {

std::optional<std::string> start_approval_webhook(const config::Config& cfg, GatewayGovernance& governance,
                                                  prometheus::Registry& registry) {
  const auto& hook = cfg.policy.approvals.webhook;
  if (!hook) return std::nullopt;
  if (!governance.approvals) {
    log::warn("approval", "policy.approvals.webhook is set but there is no policy.file; no approvals to announce");
    return std::nullopt;
  }
  governance::ApprovalWebhookOptions options;
  options.url = hook->url;
  if (hook->token) {
    auto token = config::resolve_secret(*hook->token);
    if (!token.value) {
      return "/policy/approvals/webhook/token: " + hook->token->describe() + ": " + token.error;
    }
    options.bearer_token = std::move(*token.value);
  }
  options.ca_file = hook->ca_file;
  options.timeout = hook->timeout;
  options.retries = hook->retries;
  options.max_queue = cfg.policy.approvals.max_pending;
  options.tenant = config::resolve_value(cfg.identity.tenant);
  options.namespace_ = config::resolve_value(cfg.identity.namespace_);
  options.pod = config::resolve_value(cfg.identity.pod);

  auto& family = prometheus::BuildCounter()
                     .Name("sallyport_approval_webhook_total")
                     .Help("Approval webhook notifications by result (retried counts attempts).")
                     .Register(registry);
  // Every result exists from the start, so a dashboard sees 0 rather than no series.
  std::array<prometheus::Counter*, 4> counters{};
  for (auto result : {governance::WebhookResult::delivered, governance::WebhookResult::retried,
                      governance::WebhookResult::failed, governance::WebhookResult::dropped}) {
    counters[static_cast<std::size_t>(result)] = &family.Add({{"result", governance::to_string(result)}});
  }
  auto created = governance::ApprovalWebhook::create(
      std::move(options), [counters](governance::WebhookResult result) {
        counters[static_cast<std::size_t>(result)]->Increment();
      });
  if (!created.webhook) return "/policy/approvals/webhook/url: " + created.error;
  governance.approval_webhook = std::move(created.webhook);
  auto* webhook = governance.approval_webhook.get();
  governance.approvals->set_notify_hook(
      [webhook](const governance::ApprovalRecord& record) { webhook->notify(record); });
  log::info("approval", "pending approvals are announced to the webhook",
            {{"endpoint", webhook->endpoint()}, {"retries", hook->retries}});
  return std::nullopt;
}

}  // namespace sallyport::router

#pragma once
// Wires policy.approvals.webhook (config) to the gateway's approval store: every new pending
// approval is POSTed to the webhook from a background thread (governance/approval_webhook.hpp)
// and each outcome is counted in sallyport_approval_webhook_total{result="delivered"|"retried"|
// "failed"|"dropped"}.
#include "config/config.hpp"
#include "router/gateway_deps.hpp"

#include <optional>
#include <string>

namespace prometheus {
class Registry;
}

namespace sallyport::router {

// No webhook configured: nothing happens. Configured without a tool policy (no approval store):
// a warning. A token that cannot be resolved or an unusable URL is a start-up error (returned).
std::optional<std::string> start_approval_webhook(const config::Config& cfg, GatewayGovernance& governance,
                                                  prometheus::Registry& registry);

}  // namespace sallyport::router

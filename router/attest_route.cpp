#include "router/attest_route.hpp"

#include "router/attest_facts.hpp"

#include <nlohmann/json.hpp>

namespace sallyport::router {
namespace {

HttpResponse unavailable(const HttpRequest& req, const std::string& why) {
  const nlohmann::json body{{"error", {{"message", why}, {"type", "attest_unavailable"}}}};
  return make_response(req, 503, body.dump() + "\n", "application/json");
}

}  // namespace

void AttestedToolPolicy::loaded(const std::optional<std::string>& file) {
  auto result = tool_policy_facts(file);
  std::lock_guard lock(mutex_);
  facts_ = std::move(result.facts);
  error_ = std::move(result.error);
}

std::optional<attest::ToolPolicyFacts> AttestedToolPolicy::facts(std::string& error) const {
  std::lock_guard lock(mutex_);
  error = error_;
  return facts_;
}

AdminApi::Route make_attest_route(LiveAttestSources sources) {
  return [sources = std::move(sources)](const HttpRequest& req) {
    const auto cfg = sources.config();
    const auto store = sources.blocklist();
    if (!cfg || !store) return unavailable(req, "the egress policy is not loaded yet");
    std::string policy_error;
    auto policy = sources.tool_policy->facts(policy_error);
    if (!policy) return unavailable(req, policy_error);
    auto inputs = base_inputs(*cfg, "admin-api");
    inputs.tool_policy = std::move(*policy);
    inputs.blocklist = blocklist_facts(*store);
    inputs.audit_head = read_audit_head(sources.audit_dir);
    const auto statement = attest::sign_statement(inputs, sources.identity());
    auto body = statement.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    return make_response(req, 200, std::move(body), "application/json");
  };
}

}  // namespace sallyport::router

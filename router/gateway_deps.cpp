#include "router/gateway_deps.hpp"

#include "config/loader.hpp"

namespace sallyport::router {
namespace {

std::optional<std::string> build_budget(const config::Config& cfg, GatewayGovernance& g) {
  governance::BudgetLedgerOptions options;
  options.state_dir = cfg.state_dir;
  options.sandbox = g.agent;
  options.limits.per_request_tokens = static_cast<std::int64_t>(cfg.budgets.per_request_tokens);
  options.limits.daily_tokens = static_cast<std::int64_t>(cfg.budgets.daily_tokens);
  options.limits.over_max_tokens =
      governance::parse_over_max_tokens(cfg.budgets.over_max_tokens).value_or(governance::OverMaxTokens::reject);
  auto opened = governance::BudgetLedger::open(std::move(options));
  if (!opened.ledger) return "budgets: " + opened.error;
  g.budget = std::move(opened.ledger);
  return std::nullopt;
}

std::optional<std::string> build_safety(const config::Config& cfg, GatewayGovernance& g) {
  const auto mode = governance::parse_shield_mode(cfg.safety.prompt_shield.mode);
  if (!mode) return "/safety/prompt_shield/mode: expected off, observe or enforce";
  const auto floor = governance::parse_severity(cfg.safety.floor);
  if (!floor) return "/safety/floor: expected safe, low, medium or high";
  governance::SafetyPolicy safety;
  safety.floor = *floor;
  safety.block_detected_attacks = *mode == governance::ShieldMode::enforce;
  g.safety = safety;
  if (*mode == governance::ShieldMode::off) return std::nullopt;
  std::vector<governance::ShieldPattern> extra;
  for (std::size_t i = 0; i < cfg.safety.prompt_shield.patterns.size(); ++i) {
    extra.push_back({"config:" + std::to_string(i), cfg.safety.prompt_shield.patterns[i]});
  }
  auto compiled = governance::PromptShield::compile_default(*mode, std::move(extra));
  if (!compiled.shield) return "/safety/prompt_shield/patterns: " + compiled.error;
  g.prompt_shield = std::move(compiled.shield);
  return std::nullopt;
}

std::vector<std::string> build_tool_policy(const config::Config& cfg, GatewayGovernance& g) {
  if (!cfg.policy.file) return {};
  auto loaded = governance::load_tool_policy_file(*cfg.policy.file);
  if (!loaded.ok()) {
    std::vector<std::string> errors;
    for (const auto& e : loaded.errors) errors.push_back(*cfg.policy.file + ": " + e.to_string());
    return errors;
  }
  g.tool_policy = std::make_unique<governance::ToolPolicyStore>(std::move(loaded.policy));
  g.tool_policy_file = cfg.policy.file;
  governance::ApprovalConfig approvals;
  approvals.timeout = cfg.policy.approvals.timeout;
  approvals.max_pending = cfg.policy.approvals.max_pending;
  g.approvals = std::make_unique<governance::ApprovalStore>(approvals);
  return {};
}

std::optional<std::string> build_trust(const config::Config& cfg, GatewayGovernance& g) {
  governance::TrustConfig trust;
  trust.initial = static_cast<int>(cfg.trust.initial);
  trust.threshold = static_cast<int>(cfg.trust.threshold);
  if (cfg.trust.tiers.size() == trust.tiers.size()) {
    for (std::size_t i = 0; i < trust.tiers.size(); ++i) {
      trust.tiers[i] = {cfg.trust.tiers[i].name, static_cast<int>(cfg.trust.tiers[i].min)};
    }
  }
  for (const auto& [name, penalty] : cfg.trust.penalties) {
    if (const auto event = governance::parse_trust_event(name)) {
      trust.penalties[static_cast<std::size_t>(*event)] = static_cast<int>(penalty);
    }
  }
  trust.recovery.per_clean_request = static_cast<int>(cfg.trust.recovery_per_clean_request);
  trust.recovery.max_per_hour = static_cast<int>(cfg.trust.recovery_max_per_hour);
  trust.state_file = cfg.state_dir + "/trust.json";
  auto opened = governance::TrustRegistry::open(std::move(trust));
  if (!opened.registry) return "trust: " + opened.error;
  g.trust = std::move(opened.registry);
  return std::nullopt;
}

}  // namespace

GatewayDeps GatewayGovernance::deps() const {
  GatewayDeps d;
  d.budget = budget.get();
  d.rate_limiter = rate_limiter.get();
  d.concurrency = concurrency.get();
  d.prompt_shield = prompt_shield;
  d.safety = safety;
  d.tool_policy = tool_policy.get();
  d.approvals = approvals.get();
  d.trust = trust.get();
  d.agent = agent;
  return d;
}

std::vector<std::string> GatewayGovernance::reload_tool_policy() {
  if (!tool_policy || !tool_policy_file) return {};
  std::vector<std::string> errors;
  for (const auto& e : tool_policy->reload(*tool_policy_file)) errors.push_back(e.to_string());
  return errors;
}

GatewayGovernanceResult build_gateway_governance(const config::Config& cfg) {
  GatewayGovernanceResult result;
  auto g = std::make_unique<GatewayGovernance>();
  g->agent = config::resolve_value(cfg.identity.sandbox);
  if (g->agent.empty()) g->agent = "default";
  if (auto error = build_budget(cfg, *g)) result.errors.push_back(*error);
  governance::RateLimits rate;
  rate.requests_per_minute = cfg.rate_limits.rpm;
  rate.tokens_per_minute = static_cast<std::int64_t>(cfg.rate_limits.tpm);
  g->rate_limiter = std::make_unique<governance::RateLimiter>(rate);
  g->concurrency = std::make_unique<governance::ConcurrencyLimiter>(
      governance::ConcurrencyLimits{cfg.rate_limits.max_concurrent, cfg.rate_limits.queue});
  if (auto error = build_safety(cfg, *g)) result.errors.push_back(*error);
  for (auto& error : build_tool_policy(cfg, *g)) result.errors.push_back(std::move(error));
  if (auto error = build_trust(cfg, *g)) result.errors.push_back(*error);
  if (result.errors.empty()) result.governance = std::move(g);
  return result;
}

}  // namespace sallyport::router

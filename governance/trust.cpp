// Trust score registry: penalties, recovery, resets and tier-change notifications
// (math and contracts in trust.hpp).
#include "governance/trust.hpp"

#include <algorithm>
#include <utility>

namespace sallyport::governance {
namespace {

constexpr int kMinScore = 0;
constexpr int kMaxScore = 1000;
constexpr std::size_t kMaxDetail = 256;

constexpr std::array<const char*, kTrustEventCount> kEventNames{
    "egress_blocked", "imds_attempt", "tool_denied", "jailbreak", "budget_exhausted", "kernel_deny"};

std::int64_t seconds_since_epoch(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

const char* to_string(TrustEvent event) noexcept {
  return kEventNames[static_cast<std::size_t>(event)];
}

std::optional<TrustEvent> parse_trust_event(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kEventNames.size(); ++i) {
    if (name == kEventNames[i]) return static_cast<TrustEvent>(i);
  }
  return std::nullopt;
}

TrustRegistry::TrustRegistry(TrustConfig config, Clock clock)
    : config_(std::move(config)), clock_(std::move(clock)) {}

TrustRegistry::OpenResult TrustRegistry::open(TrustConfig config, Clock clock) {
  OpenResult result;
  TrustStateLoad loaded;
  if (!config.state_file.empty()) {
    loaded = load_trust_state(config.state_file);
    if (!loaded.error.empty()) {
      result.error = std::move(loaded.error);
      return result;
    }
  }
  result.registry.reset(new TrustRegistry(std::move(config), std::move(clock)));
  result.registry->agents_ = std::move(loaded.agents);
  return result;
}

std::size_t TrustRegistry::tier_of(int score) const noexcept {
  std::size_t tier = 0;
  for (std::size_t i = 0; i < config_.tiers.size(); ++i) {
    if (score >= config_.tiers[i].min_score) tier = i;
  }
  return tier;
}

TrustStatus TrustRegistry::status(std::string_view agent) const {
  int score = config_.initial;
  {
    std::lock_guard lock(mutex_);
    if (auto it = agents_.find(agent); it != agents_.end()) score = it->second.score;
  }
  const std::size_t tier = tier_of(score);
  return TrustStatus{std::string(agent), score, tier, config_.tiers[tier].name, score < config_.threshold};
}

std::vector<TrustStatus> TrustRegistry::list() const {
  std::vector<std::string> names;
  {
    std::lock_guard lock(mutex_);
    for (const auto& entry : agents_) names.push_back(entry.first);
  }
  std::vector<TrustStatus> out;
  for (const auto& name : names) out.push_back(status(name));
  return out;
}

TrustInput TrustRegistry::policy_input(std::string_view agent) const {
  return TrustInput{status(agent).score, config_.threshold};
}

TrustRegistry::AgentState& TrustRegistry::agent_locked(std::string_view agent) {
  auto it = agents_.find(agent);
  if (it == agents_.end()) {
    it = agents_.emplace(std::string(agent), AgentState{config_.initial, 0, 0, 0}).first;
    dirty_ = true;
  }
  return it->second;
}

TrustChange TrustRegistry::apply_locked(std::string_view agent, AgentState& state, int new_score,
                                        std::string cause, std::string detail) {
  TrustChange change;
  change.agent = std::string(agent);
  change.before = state.score;
  change.after = std::clamp(new_score, kMinScore, kMaxScore);
  change.tier_before = tier_of(change.before);
  change.tier_after = tier_of(change.after);
  change.tier_name_before = config_.tiers[change.tier_before].name;
  change.tier_name_after = config_.tiers[change.tier_after].name;
  change.cause = std::move(cause);
  change.detail = std::move(detail);
  if (change.after != change.before) dirty_ = true;
  state.score = change.after;
  return change;
}

void TrustRegistry::notify(const TrustChange& change) {
  if (!change.tier_changed()) return;
  TierCallback callback;
  {
    std::lock_guard lock(mutex_);
    callback = tier_callback_;
  }
  if (callback) callback(change);
}

TrustChange TrustRegistry::penalize(std::string_view agent, TrustEvent event, std::string_view detail) {
  TrustChange change;
  {
    std::lock_guard lock(mutex_);
    AgentState& state = agent_locked(agent);
    const int penalty = config_.penalties[static_cast<std::size_t>(event)];
    state.last_violation = seconds_since_epoch(clock_());
    dirty_ = true;
    change = apply_locked(agent, state, state.score - penalty, std::string("penalty:") + to_string(event),
                          std::string(detail.substr(0, kMaxDetail)));
    save_locked();  // a failed write is retried by the next flush(); the penalty is in memory
  }
  notify(change);
  replicate({TrustMutation::Kind::penalty, std::string(agent), config_.penalties[static_cast<std::size_t>(event)]});
  return change;
}

TrustChange TrustRegistry::record_clean(std::string_view agent) {
  TrustChange change;
  {
    std::lock_guard lock(mutex_);
    AgentState& state = agent_locked(agent);
    const auto now = clock_();
    const std::int64_t now_s = seconds_since_epoch(now);
    const std::int64_t hour = now_s / 3600;
    if (hour != state.window_hour) {
      state.window_hour = hour;
      state.recovered_in_window = 0;
      dirty_ = true;
    }
    int gain = 0;
    const int ceiling = config_.recovery.ceiling.value_or(config_.initial);
    const bool paused = state.last_violation != 0 &&
                        now_s - state.last_violation < config_.recovery.pause_after_violation.count();
    if (!paused && state.score < ceiling) {
      gain = std::min({config_.recovery.per_clean_request,
                       config_.recovery.max_per_hour - state.recovered_in_window, ceiling - state.score});
      gain = std::max(gain, 0);
    }
    state.recovered_in_window += gain;
    change = apply_locked(agent, state, state.score + gain, "recovery", {});
    if (change.tier_changed()) save_locked();
  }
  notify(change);
  if (change.after > change.before) {
    replicate({TrustMutation::Kind::recovery, std::string(agent), change.after - change.before});
  }
  return change;
}

TrustChange TrustRegistry::reset(std::string_view agent, std::optional<int> score, std::string_view actor,
                                 std::string_view reason) {
  TrustChange change;
  {
    std::lock_guard lock(mutex_);
    AgentState& state = agent_locked(agent);
    state.last_violation = 0;
    state.recovered_in_window = 0;
    dirty_ = true;
    std::string detail = std::string(actor.substr(0, kMaxDetail)) + ": " + std::string(reason.substr(0, kMaxDetail));
    change = apply_locked(agent, state, score.value_or(config_.initial), "reset", std::move(detail));
    save_locked();
  }
  notify(change);
  replicate({TrustMutation::Kind::reset, std::string(agent), change.after});
  return change;
}

TrustChange TrustRegistry::adopt(std::string_view agent, int score, std::int64_t last_violation) {
  TrustChange change;
  {
    std::lock_guard lock(mutex_);
    AgentState& state = agent_locked(agent);
    if (state.last_violation != last_violation) {
      state.last_violation = last_violation;
      dirty_ = true;
    }
    change = apply_locked(agent, state, score, "fleet", "shared state backend");
    if (change.after != change.before) save_locked();
  }
  notify(change);
  return change;
}

void TrustRegistry::set_mutation_hook(MutationHook hook) {
  std::lock_guard lock(mutex_);
  mutation_hook_ = std::move(hook);
}

void TrustRegistry::replicate(TrustMutation mutation) {
  MutationHook hook;
  {
    std::lock_guard lock(mutex_);
    hook = mutation_hook_;
  }
  if (hook) hook(mutation);
}

void TrustRegistry::set_tier_callback(TierCallback callback) {
  std::lock_guard lock(mutex_);
  tier_callback_ = std::move(callback);
}

std::optional<std::string> TrustRegistry::flush() {
  std::lock_guard lock(mutex_);
  return save_locked();
}

std::optional<std::string> TrustRegistry::save_locked() {
  if (config_.state_file.empty() || !dirty_) return std::nullopt;
  auto error = write_trust_file_atomically(config_.state_file, serialize_trust_state(agents_));
  if (!error) dirty_ = false;
  return error;
}

}  // namespace sallyport::governance

#pragma once
// Trust scores per agent identity (DESIGN.md "Governance": 0..1000, five tiers, threshold,
// weighted penalties, slow recovery, persisted, tier changes trigger actions).
//
// Math (all integers):
//   - unknown agents start at `initial` (default 600: the bottom of "trusted", so one jailbreak
//     attempt, 200 points, drops below the default threshold 500 and min_trust tools stop);
//   - penalize(event): score = max(0, score - penalty[event]); recovery pauses for
//     `recovery.pause_after_violation` (default 10 min) from the violation;
//   - record_clean(): +`per_clean_request` (default 1) per clean request, at most `max_per_hour`
//     (default 10) per UTC clock hour, and never above `ceiling` (default = initial): clean
//     behaviour restores a penalised agent, it never earns privileges. From 0 that is >= 60 h
//     of clean traffic back to 600. Scores above the ceiling (set by reset) are left alone.
//   - reset(score, actor, reason): sets any score 0..1000 (default `initial`).
//   - quarantine is sticky in practice: the router denies all traffic at tier 0, so no clean
//     requests happen; only reset() leaves it.
// Tiers: five, each from its `min` up to the next tier's min - 1; tier 0 is quarantine, tier 4
// the privileged one. Defaults: 0 quarantined, 200 restricted, 400 standard, 600 trusted,
// 800 privileged.
//
// Persistence: `state_file` (state_dir + "/trust.json" by convention) is rewritten atomically
// (temp file 0600, fsync, rename, fsync dir) after every penalty and reset; recovery from clean
// requests only marks the state dirty and is written by flush() (call it from a timer and at
// shutdown) — a crash can only lose recovered points, never a penalty.
//
// Thread-safe. Callbacks run outside the registry's lock, on the thread that made the change.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "governance/tool_policy.hpp"

namespace sallyport::governance {

enum class TrustEvent : unsigned char {
  egress_blocked,    // forward proxy / blocklist denial
  imds_attempt,      // any attempt to reach cloud metadata
  tool_denied,       // a tool call blocked by policy
  jailbreak,         // prompt shield hit
  budget_exhausted,  // budget or rate limit exhausted
  kernel_deny,       // BPF guard deny event attributed to the agent
};
inline constexpr std::size_t kTrustEventCount = 6;
const char* to_string(TrustEvent event) noexcept;
std::optional<TrustEvent> parse_trust_event(std::string_view name) noexcept;

struct TrustTier {
  std::string name;
  int min_score = 0;
};

struct TrustRecovery {
  int per_clean_request = 1;
  int max_per_hour = 10;
  std::optional<int> ceiling;  // unset = initial
  std::chrono::seconds pause_after_violation{600};
};

struct TrustConfig {
  int initial = 600;
  int threshold = 500;  // below it, policy rules with min_trust deny (TrustInput::threshold)
  std::array<TrustTier, 5> tiers{{{"quarantined", 0},
                                  {"restricted", 200},
                                  {"standard", 400},
                                  {"trusted", 600},
                                  {"privileged", 800}}};
  // Indexed by TrustEvent.
  std::array<int, kTrustEventCount> penalties{25, 150, 20, 200, 10, 50};
  TrustRecovery recovery;
  std::string state_file;  // empty: not persisted
};

struct TrustConfigError {
  std::string pointer;  // e.g. "/trust/tiers/2/min"
  std::string message;
  [[nodiscard]] std::string to_string() const { return pointer + ": " + message; }
};

// Strict mapping of the config's `trust` object (DESIGN "Config shape"):
//   {"initial": 600, "threshold": 500,
//    "tiers": [{"name": "quarantined", "min": 0}, ... exactly 5, first min 0, increasing],
//    "penalties": {"egress_blocked": 25, "imds_attempt": 150, ...}   (any subset),
//    "recovery": {"per_clean_request": 1, "max_per_hour": 10, "ceiling": 600,
//                 "pause_after_violation_s": 600}}
// All keys optional; unknown keys, wrong types and out-of-range values are errors (all listed).
// `state_file` is not part of it: the router sets it from state_dir.
struct TrustConfigParseResult {
  std::optional<TrustConfig> config;
  std::vector<TrustConfigError> errors;
};
TrustConfigParseResult parse_trust_config(const nlohmann::json& trust, const std::string& pointer = "/trust");

struct TrustStatus {
  std::string agent;
  int score = 0;
  std::size_t tier = 0;  // 0 = quarantine
  std::string tier_name;
  bool below_threshold = false;
  [[nodiscard]] bool quarantined() const noexcept { return tier == 0; }
};

// One score change, returned for the audit log (and passed to the tier callback).
struct TrustChange {
  std::string agent;
  int before = 0;
  int after = 0;
  std::size_t tier_before = 0;
  std::size_t tier_after = 0;
  std::string tier_name_before;
  std::string tier_name_after;
  std::string cause;   // "penalty:jailbreak", "recovery", "reset"
  std::string detail;  // reset: "<actor>: <reason>"; penalty: caller's detail
  [[nodiscard]] bool tier_changed() const noexcept { return tier_before != tier_after; }
};

// A change made in this process, for fleet replication (governance/fleet_trust.hpp).
struct TrustMutation {
  enum class Kind : unsigned char { penalty, reset, recovery };
  Kind kind = Kind::penalty;
  std::string agent;
  int amount = 0;  // penalty points, the score set by reset, or the recovered points
};

class TrustRegistry {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  using TierCallback = std::function<void(const TrustChange&)>;
  using MutationHook = std::function<void(const TrustMutation&)>;

  struct OpenResult {
    std::unique_ptr<TrustRegistry> registry;
    std::string error;  // when registry is null: what/where is wrong with the state file
  };
  // Loads config.state_file when it exists (a missing file is a fresh start; an unreadable or
  // corrupt one is an error, so trust is never silently reset).
  static OpenResult open(TrustConfig config, Clock clock = std::chrono::system_clock::now);

  [[nodiscard]] TrustStatus status(std::string_view agent) const;
  [[nodiscard]] std::vector<TrustStatus> list() const;
  // What ToolPolicy::evaluate needs for this agent.
  [[nodiscard]] TrustInput policy_input(std::string_view agent) const;

  TrustChange penalize(std::string_view agent, TrustEvent event, std::string_view detail = {});
  TrustChange record_clean(std::string_view agent);
  TrustChange reset(std::string_view agent, std::optional<int> score, std::string_view actor,
                    std::string_view reason);

  // Fired on every change that moves an agent to another tier (the router sets the kernel
  // quarantine flag, stops egress, updates sallyport_trust_tier).
  void set_tier_callback(TierCallback callback);

  // Fleet mode: sees every penalty, reset and recovery (points > 0) made through this registry,
  // after the change, outside the lock. Unset (the default) = nothing is replicated.
  void set_mutation_hook(MutationHook hook);
  // Fleet mode: takes a score and last-violation time decided in the shared store (cause
  // "fleet"). Fires the tier callback like any change, never the mutation hook.
  TrustChange adopt(std::string_view agent, int score, std::int64_t last_violation);

  // Writes the state if anything changed since the last write. Returns an error message.
  std::optional<std::string> flush();

  [[nodiscard]] const TrustConfig& config() const noexcept { return config_; }
  [[nodiscard]] std::size_t tier_of(int score) const noexcept;

  struct AgentState {
    int score = 0;
    std::int64_t window_hour = 0;   // UTC hours since the epoch of the recovery window
    int recovered_in_window = 0;
    std::int64_t last_violation = 0;  // seconds since the epoch, 0 = never
  };

 private:
  TrustRegistry(TrustConfig config, Clock clock);
  AgentState& agent_locked(std::string_view agent);
  TrustChange apply_locked(std::string_view agent, AgentState& state, int new_score,
                           std::string cause, std::string detail);
  std::optional<std::string> save_locked();
  void notify(const TrustChange& change);

  const TrustConfig config_;
  const Clock clock_;
  mutable std::mutex mutex_;
  std::map<std::string, AgentState, std::less<>> agents_;
  bool dirty_ = false;
  TierCallback tier_callback_;
  MutationHook mutation_hook_;
  void replicate(TrustMutation mutation);
};

// Persistence helpers (trust_state.cpp), exposed for tests and `sallyport` tooling.
std::optional<std::string> write_trust_file_atomically(const std::string& path, std::string_view content);
struct TrustStateLoad {
  std::map<std::string, TrustRegistry::AgentState, std::less<>> agents;
  std::string error;  // empty on success (also when the file does not exist)
};
TrustStateLoad load_trust_state(const std::string& path);
std::string serialize_trust_state(const std::map<std::string, TrustRegistry::AgentState, std::less<>>& agents);

}  // namespace sallyport::governance

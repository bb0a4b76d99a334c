// Trust scores: penalty and recovery math with an injected clock, tier callbacks, resets,
// persistence across re-open, strict config mapping.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "governance/trust.hpp"

namespace sallyport::governance {
namespace {

using namespace std::chrono_literals;

struct ManualClock {
  // 2026-01-01T00:00:00Z, the start of a UTC hour.
  std::chrono::system_clock::time_point now = std::chrono::system_clock::time_point{} + 1767225600s;
  TrustRegistry::Clock fn() {
    return [this] { return now; };
  }
};

std::unique_ptr<TrustRegistry> open_registry(ManualClock& clock, TrustConfig config = {}) {
  auto opened = TrustRegistry::open(std::move(config), clock.fn());
  EXPECT_TRUE(opened.registry) << opened.error;
  return std::move(opened.registry);
}

TEST(Trust, DefaultsAndPenaltiesMoveTiersAndFireCallback) {
  ManualClock clock;
  auto trust = open_registry(clock);
  std::vector<TrustChange> tier_changes;
  trust->set_tier_callback([&](const TrustChange& c) { tier_changes.push_back(c); });

  const TrustStatus fresh = trust->status("agent-1");
  EXPECT_EQ(fresh.score, 600);
  EXPECT_EQ(fresh.tier_name, "trusted");
  EXPECT_FALSE(fresh.below_threshold);

  auto jailbreak = trust->penalize("agent-1", TrustEvent::jailbreak, "shield:jailbreak");
  EXPECT_EQ(jailbreak.before, 600);
  EXPECT_EQ(jailbreak.after, 400);
  EXPECT_EQ(jailbreak.cause, "penalty:jailbreak");
  ASSERT_EQ(tier_changes.size(), 1u);
  EXPECT_EQ(tier_changes[0].tier_name_before, "trusted");
  EXPECT_EQ(tier_changes[0].tier_name_after, "standard");
  EXPECT_TRUE(trust->status("agent-1").below_threshold);
  const TrustInput input = trust->policy_input("agent-1");
  EXPECT_EQ(input.score, 400);
  EXPECT_EQ(input.threshold, 500);

  trust->penalize("agent-1", TrustEvent::tool_denied);  // 380: restricted
  EXPECT_EQ(tier_changes.size(), 2u);
  trust->penalize("agent-1", TrustEvent::imds_attempt);  // 230, same tier: no callback
  EXPECT_EQ(tier_changes.size(), 2u);
  trust->penalize("agent-1", TrustEvent::imds_attempt);  // 80 quarantined
  auto floor = trust->penalize("agent-1", TrustEvent::imds_attempt);  // clamps at 0
  EXPECT_EQ(floor.after, 0);
  EXPECT_TRUE(trust->status("agent-1").quarantined());
  ASSERT_EQ(tier_changes.size(), 3u);
  EXPECT_EQ(tier_changes.back().tier_name_after, "quarantined");
  // Other agents are unaffected.
  EXPECT_EQ(trust->status("agent-2").score, 600);
}

TEST(Trust, RecoveryIsPausedAfterViolationCappedPerHourAndAtCeiling) {
  ManualClock clock;
  auto trust = open_registry(clock);
  trust->penalize("a", TrustEvent::egress_blocked);  // 575
  clock.now += 5min;
  EXPECT_EQ(trust->record_clean("a").after, 575);  // within the 10 min pause
  clock.now += 5min;                               // 00:10, pause over
  for (int i = 0; i < 30; ++i) trust->record_clean("a");
  EXPECT_EQ(trust->status("a").score, 585);  // +1 each, at most 10 per UTC hour
  clock.now += 50min;                        // 01:00, new window
  for (int i = 0; i < 30; ++i) trust->record_clean("a");
  EXPECT_EQ(trust->status("a").score, 595);
  clock.now += 1h;
  for (int i = 0; i < 30; ++i) trust->record_clean("a");
  EXPECT_EQ(trust->status("a").score, 600);  // ceiling = initial
  clock.now += 1h;
  EXPECT_EQ(trust->record_clean("a").after, 600);
}

TEST(Trust, RecoveryAcrossTierBoundaryFiresCallbackAndResetRestores) {
  ManualClock clock;
  TrustConfig config;
  config.recovery.pause_after_violation = 0s;
  config.recovery.max_per_hour = 100;
  auto trust = open_registry(clock, config);
  trust->reset("a", 598, "ops", "test");
  std::vector<TrustChange> changes;
  trust->set_tier_callback([&](const TrustChange& c) { changes.push_back(c); });
  trust->record_clean("a");  // 599
  EXPECT_TRUE(changes.empty());
  trust->record_clean("a");  // 600: standard -> trusted
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].cause, "recovery");
  EXPECT_EQ(changes[0].tier_name_after, "trusted");

  auto reset = trust->reset("a", 900, "alice", "promoted for deploy window");
  EXPECT_EQ(reset.after, 900);
  EXPECT_EQ(reset.detail, "alice: promoted for deploy window");
  EXPECT_EQ(changes.back().tier_name_after, "privileged");
  EXPECT_EQ(trust->record_clean("a").after, 900);  // above the ceiling: untouched
  EXPECT_EQ(trust->reset("a", std::nullopt, "alice", "back to normal").after, 600);
  EXPECT_EQ(trust->reset("a", 5000, "x", "y").after, 1000);  // clamped
}

TEST(Trust, CustomTiersAndPenaltiesFromConfigJson) {
  auto parsed = parse_trust_config(nlohmann::json::parse(R"({
    "initial": 700, "threshold": 650,
    "tiers": [{"name":"jail","min":0},{"name":"low","min":100},{"name":"mid","min":300},
              {"name":"high","min":650},{"name":"root","min":950}],
    "penalties": {"tool_denied": 100},
    "recovery": {"per_clean_request": 2, "max_per_hour": 4, "ceiling": 680, "pause_after_violation_s": 0}})"));
  ASSERT_TRUE(parsed.config) << (parsed.errors.empty() ? "" : parsed.errors[0].to_string());
  ManualClock clock;
  auto trust = open_registry(clock, *parsed.config);
  EXPECT_EQ(trust->status("a").tier_name, "high");
  EXPECT_EQ(trust->penalize("a", TrustEvent::tool_denied).after, 600);
  EXPECT_EQ(trust->status("a").tier_name, "mid");
  EXPECT_TRUE(trust->status("a").below_threshold);
  EXPECT_EQ(trust->penalize("a", TrustEvent::jailbreak).after, 400);  // default weight kept
  for (int i = 0; i < 5; ++i) trust->record_clean("a");
  EXPECT_EQ(trust->status("a").score, 404);
}

TEST(Trust, ConfigErrorsNameTheirPointer) {
  auto parsed = parse_trust_config(nlohmann::json::parse(R"({
    "initial": 1200, "thresold": 5,
    "tiers": [{"name":"a","min":10},{"name":"b","min":5},{"name":"","min":300},{"name":"d","min":400},{"name":"e","min":500,"x":1}],
    "penalties": {"sneezing": 5, "jailbreak": -1},
    "recovery": {"max_per_hour": "ten"}})"));
  EXPECT_FALSE(parsed.config);
  std::vector<std::string> got;
  for (const auto& e : parsed.errors) got.push_back(e.to_string());
  const std::vector<std::string> expected = {
      "/trust/thresold: unknown key (expected one of initial, threshold, tiers, penalties, recovery)",
      "/trust/initial: expected an integer 0..1000",
      "/trust/tiers/2/name: expected a non-empty string",
      "/trust/tiers/4/x: unknown key (expected one of name, min)",
      "/trust/tiers/0/min: the lowest tier must start at 0",
      "/trust/tiers/1/min: expected a value above the previous tier's min",
      "/trust/penalties/jailbreak: expected an integer 0..1000",
      "/trust/penalties/sneezing: unknown event (expected one of egress_blocked, imds_attempt, "
      "tool_denied, jailbreak, budget_exhausted, kernel_deny)",
      "/trust/recovery/max_per_hour: expected an integer 0..1000",
  };
  EXPECT_EQ(got, expected);
  EXPECT_FALSE(parse_trust_config(nlohmann::json::parse(R"({"tiers":[{"name":"a","min":0}]})")).config);
}

class TrustFiles : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sallyport-trust-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/trust.json";
  }
  void TearDown() override {
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  TrustConfig config() const {
    TrustConfig c;
    c.state_file = path_;
    c.recovery.pause_after_violation = 0s;
    return c;
  }
  std::string dir_, path_;
};

TEST_F(TrustFiles, PenaltiesPersistAtOnceWithMode0600AndSurviveReopen) {
  ManualClock clock;
  {
    auto trust = open_registry(clock, config());
    trust->penalize("sbx-1", TrustEvent::kernel_deny);  // 550
    trust->penalize("sbx-2", TrustEvent::jailbreak);    // 400
    struct stat info {};
    ASSERT_EQ(::stat(path_.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0600u);
    // Simulated crash: no flush, the registry is just dropped after a clean request.
    trust->record_clean("sbx-1");
  }
  auto reopened = open_registry(clock, config());
  EXPECT_EQ(reopened->status("sbx-1").score, 550);  // recovery was not flushed: lost, penalty kept
  EXPECT_EQ(reopened->status("sbx-2").score, 400);
  reopened->record_clean("sbx-1");
  EXPECT_FALSE(reopened->flush());
  auto third = open_registry(clock, config());
  EXPECT_EQ(third->status("sbx-1").score, 551);
  EXPECT_EQ(third->list().size(), 2u);
}

TEST_F(TrustFiles, RecoveryWindowSurvivesReopen) {
  ManualClock clock;
  {
    auto trust = open_registry(clock, config());
    trust->penalize("a", TrustEvent::tool_denied);  // 580
    for (int i = 0; i < 10; ++i) trust->record_clean("a");  // 590, hour budget used
    ASSERT_FALSE(trust->flush());
  }
  auto reopened = open_registry(clock, config());
  EXPECT_EQ(reopened->record_clean("a").after, 590);  // a restart does not refill the hour
}

TEST_F(TrustFiles, CorruptStateIsAnErrorNotASilentReset) {
  std::ofstream(path_) << R"({"version":1,"agents":{"a":{"score":4000}}})";
  auto opened = TrustRegistry::open(config());
  EXPECT_FALSE(opened.registry);
  EXPECT_NE(opened.error.find("/agents/a"), std::string::npos);
  std::ofstream(path_) << "not json";
  EXPECT_FALSE(TrustRegistry::open(config()).registry);
  ::unlink(path_.c_str());
  EXPECT_TRUE(TrustRegistry::open(config()).registry);  // missing file: fresh start
}

}  // namespace
}  // namespace sallyport::governance

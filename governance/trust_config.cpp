// Strict mapping of the config's `trust` object onto TrustConfig (format in trust.hpp).
#include <initializer_list>

#include <nlohmann/json.hpp>

#include "governance/trust.hpp"

namespace sallyport::governance {
namespace {

using nlohmann::json;

class TrustConfigReader {
 public:
  explicit TrustConfigReader(std::vector<TrustConfigError>& errors) : errors_(errors) {}

  void error(std::string pointer, std::string message) {
    errors_.push_back({std::move(pointer), std::move(message)});
  }

  bool object_with_keys(const json& value, const std::string& at, std::initializer_list<const char*> keys) {
    if (!value.is_object()) {
      error(at, "expected an object");
      return false;
    }
    std::string expected;
    for (const char* key : keys) expected += (expected.empty() ? "" : ", ") + std::string(key);
    for (const auto& item : value.items()) {
      bool known = false;
      for (const char* key : keys) known = known || item.key() == key;
      if (!known) error(at + "/" + item.key(), "unknown key (expected one of " + expected + ")");
    }
    return true;
  }

  // Reads value[key] into `out` when present; reports a type/range error otherwise.
  void integer(const json& object, const char* key, const std::string& at, int min, int max, int& out) {
    auto it = object.find(key);
    if (it == object.end()) return;
    if (!it->is_number_integer() || it->get<long long>() < min || it->get<long long>() > max) {
      error(at + "/" + key, "expected an integer " + std::to_string(min) + ".." + std::to_string(max));
      return;
    }
    out = it->get<int>();
  }

  void tiers(const json& value, const std::string& at, TrustConfig& config) {
    if (!value.is_array() || value.size() != config.tiers.size()) {
      error(at, "expected an array of exactly 5 tiers [{\"name\", \"min\"}], lowest first");
      return;
    }
    for (std::size_t i = 0; i < value.size(); ++i) {
      const std::string tier_at = at + "/" + std::to_string(i);
      if (!object_with_keys(value[i], tier_at, {"name", "min"})) continue;
      TrustTier& tier = config.tiers[i];
      if (auto name = value[i].find("name"); name == value[i].end() || !name->is_string() || name->get_ref<const std::string&>().empty()) {
        error(tier_at + "/name", "expected a non-empty string");
      } else {
        tier.name = name->get<std::string>();
      }
      if (!value[i].contains("min")) error(tier_at, "missing required key \"min\"");
      integer(value[i], "min", tier_at, 0, 1000, tier.min_score);
    }
    if (config.tiers[0].min_score != 0) error(at + "/0/min", "the lowest tier must start at 0");
    for (std::size_t i = 1; i < config.tiers.size(); ++i) {
      if (config.tiers[i].min_score <= config.tiers[i - 1].min_score) {
        error(at + "/" + std::to_string(i) + "/min", "expected a value above the previous tier's min");
      }
    }
  }

  void penalties(const json& value, const std::string& at, TrustConfig& config) {
    if (!value.is_object()) {
      error(at, "expected an object of event -> penalty points");
      return;
    }
    for (const auto& item : value.items()) {
      auto event = parse_trust_event(item.key());
      if (!event) {
        error(at + "/" + item.key(), "unknown event (expected one of egress_blocked, imds_attempt, "
                                     "tool_denied, jailbreak, budget_exhausted, kernel_deny)");
        continue;
      }
      integer(value, item.key().c_str(), at, 0, 1000, config.penalties[static_cast<std::size_t>(*event)]);
    }
  }

  void recovery(const json& value, const std::string& at, TrustConfig& config) {
    if (!object_with_keys(value, at, {"per_clean_request", "max_per_hour", "ceiling", "pause_after_violation_s"})) return;
    integer(value, "per_clean_request", at, 0, 1000, config.recovery.per_clean_request);
    integer(value, "max_per_hour", at, 0, 1000, config.recovery.max_per_hour);
    if (value.contains("ceiling")) {
      int ceiling = 0;
      const std::size_t before = errors_.size();
      integer(value, "ceiling", at, 0, 1000, ceiling);
      if (errors_.size() == before) config.recovery.ceiling = ceiling;
    }
    int pause = static_cast<int>(config.recovery.pause_after_violation.count());
    integer(value, "pause_after_violation_s", at, 0, 7 * 24 * 3600, pause);
    config.recovery.pause_after_violation = std::chrono::seconds(pause);
  }

 private:
  std::vector<TrustConfigError>& errors_;
};

}  // namespace

TrustConfigParseResult parse_trust_config(const json& trust, const std::string& pointer) {
  TrustConfigParseResult result;
  TrustConfigReader reader(result.errors);
  TrustConfig config;
  if (!reader.object_with_keys(trust, pointer, {"initial", "threshold", "tiers", "penalties", "recovery"})) {
    return result;
  }
  reader.integer(trust, "initial", pointer, 0, 1000, config.initial);
  reader.integer(trust, "threshold", pointer, 0, 1000, config.threshold);
  if (auto it = trust.find("tiers"); it != trust.end()) reader.tiers(*it, pointer + "/tiers", config);
  if (auto it = trust.find("penalties"); it != trust.end()) reader.penalties(*it, pointer + "/penalties", config);
  if (auto it = trust.find("recovery"); it != trust.end()) reader.recovery(*it, pointer + "/recovery", config);
  if (result.errors.empty()) result.config = std::move(config);
  return result;
}

}  // namespace sallyport::governance

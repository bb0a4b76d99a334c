// Strict loader for the tool policy file: collects every error (with its JSON pointer) instead of
// stopping at the first, and compiles rules into an immutable ToolPolicy snapshot.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "governance/tool_policy.hpp"
#include "governance/tool_policy_internal.hpp"

namespace sallyport::governance {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxRulesPerProfile = 10000;
constexpr std::size_t kMaxNameLength = 128;
constexpr int kMaxTrust = 1000;

std::string pointer_token(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::string child(const std::string& parent, std::string_view key) {
  return parent + "/" + pointer_token(key);
}
std::string child(const std::string& parent, std::size_t index) {
  return parent + "/" + std::to_string(index);
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

class Compiler {
 public:
  explicit Compiler(std::vector<PolicyError>& errors) : errors_(errors) {}

  void error(std::string pointer, std::string message) {
    errors_.push_back(PolicyError{std::move(pointer), std::move(message)});
  }

  // Reports keys of `object` not in `allowed`.
  void check_keys(const json& object, const std::string& at,
                  std::initializer_list<std::string_view> allowed) {
    std::string expected;
    for (auto key : allowed) expected += (expected.empty() ? "" : ", ") + std::string(key);
    for (const auto& item : object.items()) {
      bool known = false;
      for (auto key : allowed) known = known || item.key() == key;
      if (!known) error(child(at, item.key()), "unknown key (expected one of " + expected + ")");
    }
  }

  std::shared_ptr<const re2::RE2> compile_regex(const std::string& source, const std::string& at) {
    re2::RE2::Options options;
    options.set_log_errors(false);
    auto regex = std::make_shared<const re2::RE2>(source, options);
    if (!regex->ok()) {
      error(at, "invalid RE2 pattern: " + regex->error());
      return nullptr;
    }
    return regex;
  }

  std::optional<ToolAction> action(const json& value, const std::string& at, bool default_only) {
    static constexpr std::pair<std::string_view, ToolAction> kActions[] = {
        {"allow", ToolAction::allow},
        {"deny", ToolAction::deny},
        {"require_approval", ToolAction::require_approval},
        {"log", ToolAction::log}};
    if (value.is_string()) {
      const auto& text = value.get_ref<const std::string&>();
      for (const auto& [name, act] : kActions) {
        if (default_only && act != ToolAction::allow && act != ToolAction::deny) continue;
        if (text == name) return act;
      }
    }
    error(at, default_only ? "expected one of allow, deny"
                           : "expected one of allow, deny, require_approval, log");
    return std::nullopt;
  }

  std::optional<ToolPattern> tool_pattern(const json& value, const std::string& at) {
    if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
      error(at, "expected a non-empty string: a tool name, a glob (fs_*) or re:<RE2>");
      return std::nullopt;
    }
    const auto& text = value.get_ref<const std::string&>();
    ToolPattern pattern;
    if (text.starts_with("re:")) {
      pattern.kind = ToolPattern::Kind::regex;
      pattern.text = text.substr(3);
      if (pattern.text.empty()) {
        error(at, "empty RE2 pattern after \"re:\"");
        return std::nullopt;
      }
      pattern.regex = compile_regex(pattern.text, at);
      if (!pattern.regex) return std::nullopt;
      return pattern;
    }
    pattern.kind = text.find_first_of("*?") == std::string::npos ? ToolPattern::Kind::exact
                                                                  : ToolPattern::Kind::glob;
    pattern.text = text;
    return pattern;
  }

  std::optional<int> trust_value(const json& value, const std::string& at) {
    if (value.is_number_integer()) {
      const auto number = value.get<long long>();
      if (number >= 0 && number <= kMaxTrust) return static_cast<int>(number);
    }
    error(at, "expected an integer 0..1000");
    return std::nullopt;
  }

  std::optional<ToolPolicyRule> rule(const json& value, const std::string& at) {
    if (!value.is_object()) {
      error(at, "expected an object (a rule)");
      return std::nullopt;
    }
    check_keys(value, at, {"name", "tool", "args", "action", "min_trust"});
    const std::size_t errors_before = errors_.size();
    ToolPolicyRule out;
    for (const char* required : {"name", "tool", "action"}) {
      if (!value.contains(required)) error(at, std::string("missing required key \"") + required + "\"");
    }
    if (auto it = value.find("name"); it != value.end()) {
      if (!it->is_string() || !valid_name(it->get_ref<const std::string&>())) {
        error(child(at, "name"), "expected 1-128 characters from [A-Za-z0-9_.:-]");
      } else if (*it == "default") {
        error(child(at, "name"), "\"default\" is reserved for the default action");
      } else {
        out.name = it->get<std::string>();
      }
    }
    if (auto it = value.find("tool"); it != value.end()) {
      if (auto pattern = tool_pattern(*it, child(at, "tool"))) out.tool = std::move(*pattern);
    }
    if (auto it = value.find("args"); it != value.end()) {
      if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
        error(child(at, "args"), "expected a non-empty RE2 pattern string");
      } else {
        out.args = compile_regex(it->get<std::string>(), child(at, "args"));
      }
    }
    if (auto it = value.find("action"); it != value.end()) {
      if (auto act = action(*it, child(at, "action"), false)) out.action = *act;
    }
    if (auto it = value.find("min_trust"); it != value.end()) {
      out.min_trust = trust_value(*it, child(at, "min_trust"));
    }
    if (errors_.size() != errors_before) return std::nullopt;
    return out;
  }

  // The top-level object (at == "") or one entry of "profiles".
  std::shared_ptr<const ToolPolicy::Profile> profile(const json& object, const std::string& at) {
    const std::size_t errors_before = errors_.size();
    auto out = std::make_shared<ToolPolicy::Profile>();
    if (auto it = object.find("default"); it == object.end()) {
      error(at, "missing required key \"default\"");
    } else if (auto act = action(*it, child(at, "default"), true)) {
      out->default_action = *act;
    }
    if (auto it = object.find("rules"); it != object.end()) {
      const std::string rules_at = child(at, "rules");
      if (!it->is_array()) {
        error(rules_at, "expected an array of rules");
      } else if (it->size() > kMaxRulesPerProfile) {
        error(rules_at, "too many rules (at most " + std::to_string(kMaxRulesPerProfile) + ")");
      } else {
        std::map<std::string, std::string> first_seen;  // rule name -> pointer
        for (std::size_t i = 0; i < it->size(); ++i) {
          const std::string rule_at = child(rules_at, i);
          auto compiled = rule((*it)[i], rule_at);
          if (!compiled) continue;
          auto [seen, inserted] = first_seen.emplace(compiled->name, rule_at);
          if (!inserted) {
            error(child(rule_at, "name"),
                  "duplicate rule name \"" + compiled->name + "\" (first at " + seen->second + ")");
            continue;
          }
          out->rules.push_back(std::move(*compiled));
        }
      }
    }
    if (errors_.size() != errors_before) return nullptr;
    return out;
  }

 private:
  std::vector<PolicyError>& errors_;
};

// nlohmann keeps the last of duplicate object keys silently; a policy where "action" appears
// twice is ambiguous, so duplicates are errors. The callback tracks the pointer of each key.
struct DuplicateKeyFinder {
  struct Frame {
    bool is_object = false;
    std::set<std::string> keys;
    std::string last_key;
    std::size_t elements = 0;
  };
  std::vector<Frame> frames;
  std::vector<PolicyError>* errors = nullptr;

  std::string pointer() const {
    std::string out;
    for (std::size_t i = 0; i + 1 < frames.size(); ++i) {
      out = frames[i].is_object ? child(out, frames[i].last_key)
                                : child(out, frames[i].elements - 1);
    }
    return out;
  }

  bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
    using E = json::parse_event_t;
    const bool starts_value = event == E::object_start || event == E::array_start || event == E::value;
    if (starts_value && !frames.empty() && !frames.back().is_object) ++frames.back().elements;
    if (event == E::object_start || event == E::array_start) {
      frames.push_back(Frame{event == E::object_start, {}, {}, 0});
    } else if (event == E::object_end || event == E::array_end) {
      if (!frames.empty()) frames.pop_back();
    } else if (event == E::key && !frames.empty()) {
      const auto key = parsed.get<std::string>();
      if (!frames.back().keys.insert(key).second) {
        errors->push_back({child(pointer(), key), "duplicate key"});
      }
      frames.back().last_key = key;
    }
    return true;
  }
};

}  // namespace

ToolPolicyLoadResult parse_tool_policy(std::string_view json_text,
                                       const ToolPolicyLoadOptions& options) {
  ToolPolicyLoadResult result;
  json document;
  DuplicateKeyFinder duplicates;
  duplicates.errors = &result.errors;
  try {
    document = json::parse(json_text, std::ref(duplicates), /*allow_exceptions=*/true);
  } catch (const json::exception& e) {
    result.errors.push_back({"", std::string("invalid JSON: ") + e.what()});
    return result;
  }
  Compiler compiler(result.errors);
  if (!document.is_object()) {
    compiler.error("", "expected a JSON object");
    return result;
  }
  compiler.check_keys(document, "", {"version", "default", "rules", "profiles", "profile"});
  if (auto it = document.find("version"); it == document.end()) {
    compiler.error("", "missing required key \"version\"");
  } else if (!it->is_number_integer() || it->get<long long>() != 1) {
    compiler.error("/version", "expected 1");
  }

  std::map<std::string, std::shared_ptr<const ToolPolicy::Profile>> profiles;
  if (auto top = compiler.profile(document, "")) profiles.emplace("default", std::move(top));
  std::set<std::string> declared{"default"};
  if (auto it = document.find("profiles"); it != document.end()) {
    if (!it->is_object()) {
      compiler.error("/profiles", "expected an object of named profiles");
    } else {
      for (const auto& item : it->items()) {
        const std::string at = child("/profiles", item.key());
        if (!valid_name(item.key()) || item.key() == "default") {
          compiler.error(at, "profile names are 1-128 characters from [A-Za-z0-9_.:-] and not "
                             "\"default\" (the top level is the default profile)");
          continue;
        }
        declared.insert(item.key());
        if (!item.value().is_object()) {
          compiler.error(at, "expected an object with \"default\" and \"rules\"");
          continue;
        }
        compiler.check_keys(item.value(), at, {"default", "rules"});
        if (auto compiled = compiler.profile(item.value(), at)) {
          profiles.emplace(item.key(), std::move(compiled));
        }
      }
    }
  }

  std::string names;
  for (const auto& name : declared) names += (names.empty() ? "" : ", ") + name;
  std::string active = "default";
  if (auto it = document.find("profile"); it != document.end()) {
    if (!it->is_string() || !declared.contains(it->get<std::string>())) {
      compiler.error("/profile", "expected the name of a profile (one of " + names + ")");
    } else {
      active = it->get<std::string>();
    }
  }
  if (options.profile) {
    if (!declared.contains(*options.profile)) {
      compiler.error("", "profile \"" + *options.profile + "\" is not defined (one of " + names + ")");
    } else {
      active = *options.profile;
    }
  }
  if (!result.errors.empty()) return result;
  result.policy = std::make_shared<const ToolPolicy>(std::move(profiles), active);
  return result;
}

ToolPolicyLoadResult load_tool_policy_file(const std::string& path,
                                           const ToolPolicyLoadOptions& options) {
  ToolPolicyLoadResult result;
  auto fail = [&](std::string message) {
    result.errors.push_back({"", path + ": " + std::move(message)});
    return result;
  };
  // O_NONBLOCK: a FIFO in the policy's place must not hang the load (fstat below rejects it).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return fail(std::string("cannot open: ") + std::strerror(errno));
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat info {};
  if (::fstat(fd, &info) != 0) return fail(std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(info.st_mode)) return fail("not a regular file");
  if (static_cast<std::size_t>(info.st_size) > options.max_file_bytes) {
    return fail("file is " + std::to_string(info.st_size) + " bytes, limit is " +
                std::to_string(options.max_file_bytes));
  }
  std::string text(static_cast<std::size_t>(info.st_size), '\0');
  std::size_t filled = 0;
  while (filled < text.size()) {
    const ssize_t got = ::read(fd, text.data() + filled, text.size() - filled);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return fail(std::string("read failed: ") + std::strerror(errno));
    if (got == 0) break;  // file shrank while reading: parse what is there
    filled += static_cast<std::size_t>(got);
  }
  text.resize(filled);
  return parse_tool_policy(text, options);
}

}  // namespace sallyport::governance

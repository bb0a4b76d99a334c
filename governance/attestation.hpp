#pragma once
// Attestation: a signed statement of what one sidecar enforces right now (`sallyport attest`,
// GET /admin/attest). This file is pure: callers gather the facts (router/attest_facts.hpp) and
// this code shapes, signs and verifies the JSON.
//
// Statement (format_version 1; every digest is lower-case hex SHA-256):
//   {"format_version": 1, "sallyport_version": "0.1.0", "generated_at": RFC 3339 UTC,
//    "generated_by": "cli" | "admin-api",
//    "identity":
//    {"sandbox","tenant","namespace","pod","key_id","public_key","algorithm":"ed25519"}, "config":
//    {"sha256", "secrets": "references-only"}, "tool_policy": {"file": PATH | null, "sha256": HEX |
//    "none"}, "blocklist": {"sha256", "domains", "ips", "last_refresh": RFC 3339 | null,
//                  "feeds": [{"name","domains","ips","last_refresh"}]},
//    "kernel_guard": {"attached": true, "name", "mode", "cgroup", "cgroup_id", "programs": [...]}
//                  | {"attached": false, "reason"},
//    "audit_head": {"seq", "hash"} | {} (no record yet) | {"error"} (cannot be read),
//    "signature": 128 hex digits}
// signature = Ed25519(secret key, canonical_json(statement without "signature")), canonical JSON
// as in governance/canonical_json.hpp, so the digest does not depend on key order or spacing.
//
// Digest definitions (the same in the CLI and the running sidecar, for the same inputs):
//   config       SHA-256 of canonical_json(config::to_masked_json(effective config)): secrets
//                appear only as their references ({"env": NAME}), so rotating a secret's value
//                does not change it, pointing to another secret does.
//   tool_policy  SHA-256 of canonical_json(parsed policy file); "none" when no file is set.
//   blocklist    SHA-256 over the sorted, de-duplicated feed entries, each followed by '\n':
//                normalised domains as they are matched, bare IPs as "ip:<canonical form>".
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <memory>

#include <nlohmann/json.hpp>

#include "governance/identity.hpp"

namespace sallyport::attest {

inline constexpr int kFormatVersion = 1;

struct IdentityFacts {
  std::string sandbox, tenant, namespace_, pod;
};

struct ToolPolicyFacts {
  std::optional<std::string> file;  // nullopt: no policy file configured
  std::string sha256 = "none";
};

struct FeedFacts {
  std::string name;
  std::size_t domains = 0;
  std::size_t ips = 0;
  std::optional<std::chrono::system_clock::time_point> last_refresh;
};

struct BlocklistFacts {
  std::string sha256;       // see "Digest definitions"
  std::size_t domains = 0;  // unique, all feeds
  std::size_t ips = 0;
  std::vector<FeedFacts> feeds;
  std::optional<std::chrono::system_clock::time_point> last_refresh;  // newest of the feeds
};

struct KernelGuardFacts {
  bool attached = false;
  std::string reason;  // why not attached (attached == false)
  std::string name, mode, cgroup;
  std::uint64_t cgroup_id = 0;
  std::vector<std::string> programs;  // sorted
};

struct AuditHeadFacts {
  std::optional<std::uint64_t> seq;  // nullopt: no record yet (or error)
  std::string hash;                  // hex, with seq
  std::string error;                 // the head could not be read
};

struct StatementInputs {
  std::string sallyport_version;
  std::string generated_by;  // "cli" | "admin-api"
  std::chrono::system_clock::time_point generated_at;
  IdentityFacts identity;
  std::string config_sha256;
  ToolPolicyFacts tool_policy;
  BlocklistFacts blocklist;
  KernelGuardFacts kernel_guard;
  AuditHeadFacts audit_head;
};

// Lower-case hex SHA-256 of canonical_json(value).
std::string canonical_sha256(const nlohmann::json& value);

// Streaming SHA-256 for the blocklist digest: add() each sorted entry once; hex() finishes.
class EntryDigest {
 public:
  EntryDigest();
  ~EntryDigest();
  EntryDigest(const EntryDigest&) = delete;
  EntryDigest& operator=(const EntryDigest&) = delete;
  void add(std::string_view entry);  // hashes entry ‖ '\n'
  std::string hex();                 // call once

 private:
  struct State;  // the OpenSSL digest context
  std::unique_ptr<State> state_;
};

// The unsigned statement (no "signature" key).
nlohmann::json statement_body(const StatementInputs& inputs, const identity::PublicKey& key);
// statement_body + "signature" made with `key`.
nlohmann::json sign_statement(const StatementInputs& inputs, const identity::Identity& key);

struct VerifyResult {
  bool ok = false;
  std::string reason;  // why it failed; empty when ok
  std::string key_id;  // key id named in the statement (when readable)
};

// Checks the signature with the expected public key. Fails with a reason when the text is not a
// JSON object, a required field is missing or mistyped, the format version is unknown, the
// statement names another key (wrong key), or the signature does not match (content changed
// after signing). Never throws.
VerifyResult verify_statement_text(std::string_view statement_text,
                                   const identity::PublicKey& expected);
VerifyResult verify_statement(const nlohmann::json& statement, const identity::PublicKey& expected);

// A few lines for people: identity, digests, guard state, audit head.
std::string human_summary(const nlohmann::json& statement);

}  // namespace sallyport::attest

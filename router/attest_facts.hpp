#pragma once
// Gathers the facts an attestation states (governance/attestation.hpp) from the config and from
// the components, for `sallyport attest` (from disk) and GET /admin/attest (live objects).
// Every reader here is read-only: attesting never changes the state it describes.
#include "blocklist/store.hpp"
#include "config/config.hpp"
#include "governance/attestation.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace sallyport::router {

// Version, time, identity, config digest and kernel guard state; the caller adds the tool policy,
// blocklist and audit head from disk (CLI) or from the running components (admin API).
attest::StatementInputs base_inputs(const config::Config& cfg, std::string generated_by);

// identity.* with {"env": NAME} references resolved.
attest::IdentityFacts identity_facts(const config::Config& cfg);

// SHA-256 of the canonical masked effective config (secrets as references only).
std::string config_sha256(const config::Config& cfg);

// Reads and parses the tool policy file (nullopt = no file: sha256 "none"). On a read or JSON
// error, returns nullopt facts and the error (the caller must not attest a guess).
struct ToolPolicyFactsResult {
  std::optional<attest::ToolPolicyFacts> facts;
  std::string error;
};
ToolPolicyFactsResult tool_policy_facts(const std::optional<std::string>& file);

// Digest over the store's sorted entries, unique counts and per-feed counts / refresh times.
attest::BlocklistFacts blocklist_facts(const blocklist::BlocklistStore& store);

// The pinned guard kernel_guard.name under kernel_guard.pin_dir; {attached: false, reason} when
// none is pinned or the pins cannot be read (no privileges, no bpffs).
attest::KernelGuardFacts kernel_guard_facts(const config::KernelGuard& guard);

// The last complete record of the newest non-empty segment in `audit_dir` (seq + hash); empty
// when there is no record; error when a segment cannot be read or its last line does not parse.
attest::AuditHeadFacts read_audit_head(const std::filesystem::path& audit_dir);

}  // namespace sallyport::router

#pragma once
// GET /admin/attest on the running sidecar: the same signed statement as `sallyport attest
// --json` (governance/attestation.hpp), computed from the live objects: the running config, the
// blocklist store's current feed copies, the tool policy the gateway last loaded, the audit
// chain's head on disk and the pinned kernel guard. Token protection comes from AdminApi.
#include "blocklist/store.hpp"
#include "config/config.hpp"
#include "governance/attestation.hpp"
#include "governance/identity.hpp"
#include "router/admin_api.hpp"

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace sallyport::router {

// The tool policy the gateway has loaded, as attestation facts. The policy object does not keep
// its source, so the file is hashed right after each successful (re)load.
class AttestedToolPolicy {
 public:
  // Call after the gateway loaded `file` (nullopt: no policy file) at start or on SIGHUP.
  void loaded(const std::optional<std::string>& file);
  // The facts, or the error from hashing the file.
  std::optional<attest::ToolPolicyFacts> facts(std::string& error) const;

 private:
  mutable std::mutex mutex_;
  std::optional<attest::ToolPolicyFacts> facts_{attest::ToolPolicyFacts{}};
  std::string error_;
};

struct LiveAttestSources {
  std::function<std::shared_ptr<const config::Config>()> config;
  std::function<std::shared_ptr<blocklist::BlocklistStore>()> blocklist;
  std::function<const identity::Identity&()> identity;
  std::filesystem::path audit_dir;                  // the running chain's directory
  const AttestedToolPolicy* tool_policy = nullptr;  // must outlive the route
};

// The route for AdminApi::add_route(GET, "/admin/attest", …): 200 with the statement, 503 with
// a JSON error when a part cannot be stated (no blocklist yet, unreadable policy).
AdminApi::Route make_attest_route(LiveAttestSources sources);

}  // namespace sallyport::router

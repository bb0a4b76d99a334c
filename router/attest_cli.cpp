#include "router/attest_cli.hpp"

#include "config/loader.hpp"
#include "governance/attestation.hpp"
#include "governance/identity.hpp"
#include "router/attest_facts.hpp"
#include "router/audit_service.hpp"
#include "router/blocklist_service.hpp"

#include <iostream>
#include <iterator>
#include <memory>

namespace sallyport::router {
namespace {

constexpr int kFailed = 1;
constexpr int kUsage = 2;
constexpr std::size_t kMaxStatementBytes = 4 * 1024 * 1024;

struct AttestArgs {
  std::string config_path;
  bool json = false;
  std::string verify_file;
  std::string verify_pubkey;
};

int make_statement(const AttestArgs& args) {
  auto loaded = args.config_path.empty() ? config::load_default_config()
                                         : config::load_config_file(args.config_path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::cerr << loaded.source << ": " << e.to_string() << "\n";
    return kUsage;
  }
  const auto& cfg = *loaded.config;
  std::string error;
  const auto key = identity::Identity::load(cfg.state_dir, error);
  if (!key) {
    std::cerr << "sallyport attest: no identity key to sign with: " << error
              << " (run `sallyport keygen` or start the sidecar once)\n";
    return kFailed;
  }
  auto policy = tool_policy_facts(cfg.policy.file);
  if (!policy.facts) {
    std::cerr << "sallyport attest: " << policy.error << "\n";
    return kFailed;
  }
  auto inputs = base_inputs(cfg, "cli");
  inputs.tool_policy = std::move(*policy.facts);
  try {
    inputs.blocklist = blocklist_facts(*load_blocklist_once(cfg));
  } catch (const std::exception& e) {
    std::cerr << "sallyport attest: cannot load the blocklist: " << e.what() << "\n";
    return kUsage;
  }
  inputs.audit_head = read_audit_head(audit_dir(cfg));
  const auto statement = attest::sign_statement(inputs, *key);
  if (args.json) {
    std::cout << statement.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    std::cout << attest::human_summary(statement);
  }
  return 0;
}

int verify(const AttestArgs& args) {
  std::string error;
  const auto key = identity::PublicKey::from_hex_or_file(args.verify_pubkey, error);
  if (!key) {
    std::cerr << "sallyport attest verify: --pubkey: " << error << "\n";
    return kUsage;
  }
  std::string text;
  if (args.verify_file == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    auto read = config::read_small_file(args.verify_file, kMaxStatementBytes);
    if (!read.content) {
      std::cout << "INVALID " << args.verify_file << ": " << read.error << "\n";
      return kFailed;
    }
    text = std::move(*read.content);
  }
  const auto result = attest::verify_statement_text(text, *key);
  if (!result.ok) {
    std::cout << "INVALID " << args.verify_file << ": " << result.reason << "\n";
    return kFailed;
  }
  std::cout << "OK " << args.verify_file << ": signature valid (ed25519 key id " << result.key_id
            << ")\n";
  return 0;
}

}  // namespace

void register_attest_cli(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<AttestArgs>();
  auto* attest = app.add_subcommand(
      "attest",
      "Print a signed statement of what this sidecar enforces (config, tool policy, "
      "blocklist, kernel guard, audit head)");
  attest->add_option("-c,--config", args->config_path, "Config file; default: the embedded default")
      ->check(CLI::ExistingFile);
  attest->add_flag("--json", args->json, "Print the signed JSON statement instead of a summary");
  attest->require_subcommand(0, 1);

  auto* verify_cmd = attest->add_subcommand("verify", "Check the signature of a statement FILE");
  verify_cmd
      ->add_option("file", args->verify_file,
                   "Statement (JSON) as printed by attest --json; - = stdin")
      ->required();
  verify_cmd
      ->add_option("--pubkey", args->verify_pubkey,
                   "Expected Ed25519 public key: 64 hex digits or a file holding them")
      ->required();
  verify_cmd->callback([args, &exit_code] { exit_code = verify(*args); });
  // The parent's callback also runs after `attest verify`; it only acts on bare `attest`.
  attest->callback([args, attest, verify_cmd, &exit_code] {
    if (attest->got_subcommand(verify_cmd)) return;
    exit_code = make_statement(*args);
  });
}

}  // namespace sallyport::router

// sallyport CLI: `sallyport <command> --help` for each command. Exit codes: 0 success,
// 1 a check failed (denied, broken, invalid), 2 usage error or capability not in this build.
#include "common/log.hpp"
#include "config/loader.hpp"
#include "blocklist/cli.hpp"
#include "bpf/cli.hpp"
#include "governance/audit_cli.hpp"
#include "governance/tool_policy_cli.hpp"
#include "router/attest_cli.hpp"
#include "router/audit_service.hpp"
#include "router/app.hpp"
#include "router/blocklist_service.hpp"
#include "router/demo_cli.hpp"
#include "router/version.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <optional>

namespace {

using namespace sallyport;

// Loads --config (or the embedded default) for one-shot commands; prints every error.
std::optional<config::Config> load_config_for_cli(const std::string& path) {
  auto r = path.empty() ? config::load_default_config() : config::load_config_file(path);
  if (!r.ok()) {
    for (const auto& e : r.errors) std::cerr << r.source << ": " << e.to_string() << "\n";
    return std::nullopt;
  }
  return std::move(r.config);
}

int blocklist_command(const std::string& config_path, const std::optional<std::string>& target) {
  const auto cfg = load_config_for_cli(config_path);
  if (!cfg) return 2;
  try {
    const auto store = router::load_blocklist_once(*cfg);
    if (target) return blocklist::print_blocklist_check(*store->current(), *target, std::cout);
    return blocklist::print_blocklist_stats(*store, std::cout);
  } catch (const std::exception& e) {
    std::cerr << "sallyport: " << e.what() << "\n";
    return 2;
  }
}

int check_config(const std::string& path) {
  const auto r = config::load_config_file(path);
  if (r.ok()) {
    std::cout << "OK " << path << "\n";
    return 0;
  }
  for (const auto& e : r.errors) std::cout << path << ": " << e.to_string() << "\n";
  std::cout << r.errors.size() << " error" << (r.errors.size() == 1 ? "" : "s") << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sallyport: the egress proxy and inference gateway that stands between AI agents "
               "and the world"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(router::kVersion));
  int exit_code = 0;
  // One-shot commands print results on stdout; their own log lines go to stderr, warnings up.
  log::set_output_fd(2);
  log::configure(log::Format::text, log::Level::warn);

  router::RunOptions run_options;
  auto* run = app.add_subcommand("run", "Run the sidecar (proxy :3128, gateway :8080, admin :8787)");
  run->add_option("-c,--config", run_options.config_path,
                  "Config file (JSON); default: the embedded default config")
      ->check(CLI::ExistingFile);
  int drain_seconds = 15;
  run->add_option("--drain-timeout", drain_seconds, "Seconds to drain in-flight work on SIGTERM")
      ->check(CLI::Range(0, 3600));
  run->callback([&] {
    log::set_output_fd(1);
    run_options.drain_timeout = std::chrono::seconds(drain_seconds);
    exit_code = router::run(run_options);
  });

  std::string check_path;
  auto* check = app.add_subcommand("check-config", "Validate a config file; prints OK or every error");
  check->add_option("file", check_path, "Config file (JSON)")->required();
  check->callback([&] { exit_code = check_config(check_path); });

  auto* version = app.add_subcommand("version", "Print the version");
  version->callback([&] { std::cout << "sallyport " << router::kVersion << "\n"; });

  auto* blocklist = app.add_subcommand("blocklist", "Query the domain and IP policy");
  blocklist->require_subcommand(1);
  std::string blocklist_config;
  blocklist->add_option("-c,--config", blocklist_config, "Config file; default: the embedded default")
      ->check(CLI::ExistingFile);
  std::string blocklist_target;
  auto* bl_check = blocklist->add_subcommand("check", "Decide one DOMAIN, IP (any spelling) or URL");
  bl_check->add_option("target", blocklist_target, "Domain, IP literal or http(s) URL")->required();
  bl_check->callback([&] { exit_code = blocklist_command(blocklist_config, blocklist_target); });
  auto* bl_stats = blocklist->add_subcommand("stats", "Per-feed counts, parse errors, last refresh");
  bl_stats->callback([&] { exit_code = blocklist_command(blocklist_config, std::nullopt); });

  auto* audit = app.add_subcommand("audit", "Verify and read the hash-chained audit log");
  audit->require_subcommand(1);
  std::string audit_path, audit_pubkey;
  bool audit_json = false, audit_open_tail = false;
  auto* verify = audit->add_subcommand("verify", "Verify FILE|DIR: hashes, sequence, signatures, links");
  verify->add_option("path", audit_path, "Audit segment file or audit directory")->required();
  verify->add_option("--pubkey", audit_pubkey, "Expected Ed25519 public key (64 hex) or a .pub file");
  verify->add_flag("--json", audit_json, "Machine-readable result");
  verify->add_flag("--allow-open-tail", audit_open_tail,
                   "Accept a log whose writer is still running (no final checkpoint yet)");
  verify->callback([&] {
    exit_code = audit::run_audit_verify(
        audit_path, audit_pubkey.empty() ? std::nullopt : std::optional<std::string>(audit_pubkey),
        audit_json, audit_open_tail, std::cout);
  });
  std::string tail_config;
  bool tail_follow = false;
  std::size_t tail_lines = 20;
  auto* tail = audit->add_subcommand("tail", "Pretty-print the newest records");
  tail->add_option("path", audit_path, "Audit dir or file; default: audit.dir of the config");
  tail->add_option("-c,--config", tail_config, "Config file naming the audit dir")->check(CLI::ExistingFile);
  tail->add_flag("-f,--follow", tail_follow, "Keep printing new records");
  tail->add_option("-n,--lines", tail_lines, "How many records to show first");
  tail->callback([&] {
    std::string path = audit_path;
    if (path.empty()) {
      const auto cfg = load_config_for_cli(tail_config);
      if (!cfg) {
        exit_code = 2;
        return;
      }
      path = router::audit_dir(*cfg);
    }
    exit_code = audit::run_audit_tail(path, tail_follow, tail_lines, std::cout);
  });

  std::string keygen_config, keygen_state_dir;
  bool keygen_force = false;
  auto* keygen = app.add_subcommand("keygen", "Create the sandbox Ed25519 identity in state_dir");
  keygen->add_option("-c,--config", keygen_config, "Config file naming state_dir")->check(CLI::ExistingFile);
  keygen->add_option("--state-dir", keygen_state_dir, "State directory (overrides the config)");
  keygen->add_flag("--force", keygen_force, "Replace an existing key (breaks verification of old logs)");
  keygen->callback([&] {
    std::string dir = keygen_state_dir;
    if (dir.empty()) {
      const auto cfg = load_config_for_cli(keygen_config);
      if (!cfg) {
        exit_code = 2;
        return;
      }
      dir = cfg->state_dir;
    }
    exit_code = audit::run_keygen(dir, std::cout, keygen_force);
  });

  // `bpf attach|detach|status|quarantine|mode|events` and `probe` (kernel guard).
  bpf::register_bpf_cli(app, exit_code);

  // `demo`: the rogue-agent replay in a throw-away pod simulator (router/demo_cli.hpp).
  router::register_demo_cli(app, exit_code);

  auto* policy = app.add_subcommand("policy", "Tool policy files");
  policy->require_subcommand(1);
  std::string policy_file, policy_profile, policy_tool, policy_args = "{}";
  std::optional<int> policy_trust;
  int policy_threshold = 500;
  auto* pcheck = policy->add_subcommand("check", "Validate a tool policy file; prints OK or every error");
  pcheck->add_option("file", policy_file, "Tool policy file (JSON)")->required();
  pcheck->add_option("--profile", policy_profile, "Profile to activate");
  pcheck->callback([&] {
    exit_code = governance::run_policy_check(
        policy_file, std::cout, policy_profile.empty() ? std::nullopt : std::optional(policy_profile));
  });
  auto* ptest = policy->add_subcommand("test", "Decide one tool call against a policy file");
  ptest->add_option("file", policy_file, "Tool policy file (JSON)")->required();
  ptest->add_option("--tool", policy_tool, "Tool (function) name")->required();
  ptest->add_option("--args", policy_args, "The call's JSON arguments");
  ptest->add_option("--trust", policy_trust, "The agent's trust score (0-1000)")->check(CLI::Range(0, 1000));
  ptest->add_option("--threshold", policy_threshold, "Trust threshold")->check(CLI::Range(0, 1000));
  ptest->add_option("--profile", policy_profile, "Profile to activate");
  ptest->callback([&] {
    exit_code = governance::run_policy_test(
        policy_file, policy_tool, policy_args, policy_trust, std::cout,
        policy_profile.empty() ? std::nullopt : std::optional(policy_profile), policy_threshold);
  });

  router::register_attest_cli(app, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  return exit_code;
}

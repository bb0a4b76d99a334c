// sallyport CLI: `sallyport <command> --help` for each command. Exit codes: 0 success,
// 1 a check failed (denied, broken, invalid), 2 usage error or capability not in this build.
#include "common/log.hpp"
#include "config/loader.hpp"
#include "router/app.hpp"
#include "router/version.hpp"

#include <CLI/CLI.hpp>

#include <iostream>

namespace {

using namespace sallyport;

constexpr int kNotAvailable = 2;

// A command whose capability has not landed in this build: says so and exits 2, never fakes.
void add_unavailable(CLI::App& parent, const std::string& name, const std::string& description,
                     int& exit_code) {
  auto* cmd = parent.add_subcommand(name, description + " (not available in this build)");
  cmd->allow_extras();
  cmd->callback([&exit_code, name] {
    std::cerr << "sallyport: '" << name << "' is not available in this build\n";
    exit_code = kNotAvailable;
  });
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

  router::RunOptions run_options;
  auto* run = app.add_subcommand("run", "Run the sidecar (proxy :3128, gateway :8080, admin :8787)");
  run->add_option("-c,--config", run_options.config_path,
                  "Config file (JSON); default: the embedded default config")
      ->check(CLI::ExistingFile);
  int drain_seconds = 15;
  run->add_option("--drain-timeout", drain_seconds, "Seconds to drain in-flight work on SIGTERM")
      ->check(CLI::Range(0, 3600));
  run->callback([&] {
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
  add_unavailable(*blocklist, "check", "Decide one DOMAIN or IP", exit_code);
  add_unavailable(*blocklist, "stats", "Per-feed counts, parse errors, last refresh", exit_code);

  auto* audit = app.add_subcommand("audit", "Verify and read the hash-chained audit log");
  audit->require_subcommand(1);
  add_unavailable(*audit, "verify", "Verify FILE|DIR", exit_code);
  add_unavailable(*audit, "tail", "Pretty-print records", exit_code);

  add_unavailable(app, "keygen", "Create the sandbox Ed25519 identity", exit_code);

  auto* bpf = app.add_subcommand("bpf", "Kernel egress guard (eBPF cgroup programs)");
  bpf->require_subcommand(1);
  for (const char* name : {"attach", "detach", "status", "quarantine"}) {
    add_unavailable(*bpf, name, std::string("bpf ") + name, exit_code);
  }
  add_unavailable(app, "probe", "Try a hostile agent's operations and print what stops them", exit_code);

  auto* policy = app.add_subcommand("policy", "Tool policy files");
  policy->require_subcommand(1);
  add_unavailable(*policy, "check", "Validate a tool policy file", exit_code);
  add_unavailable(*policy, "test", "Decide one tool call against a policy file", exit_code);

  add_unavailable(app, "attest", "Signed statement of what this sidecar enforces", exit_code);

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

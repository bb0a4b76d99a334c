#include "bpf/cli.hpp"
#include "bpf/cli_internal.hpp"

#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bpf/deny_events.hpp"
#include "bpf/guard_loader.hpp"
#include "bpf/probe.hpp"

namespace sallyport::bpf {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitNotAttached = 3;

int fail(const std::string& command, const Error& error) {
  std::cerr << "sallyport " << command << ": error: " << error.message << "\n";
  return kExitFailed;
}

CLI::Validator mode_validator() {
  return CLI::IsMember({"off", "observe", "enforce"});
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "-" : out;
}

template <typename T>
std::string join_numbers(const std::vector<T>& items) {
  std::vector<std::string> text;
  for (const auto& n : items) text.push_back(std::to_string(n));
  return join(text);
}

void register_attach(CLI::App& bpf, const ExitSink& sink) {
  auto opts = std::make_shared<AttachOptions>();
  auto mode = std::make_shared<std::string>("enforce");
  auto extra_metadata = std::make_shared<std::vector<std::string>>();
  auto* cmd =
      bpf.add_subcommand("attach", "Attach the kernel guard to a cgroup v2 directory and pin it");
  cmd->add_option("--cgroup", opts->cgroup_path, "cgroup v2 directory of the pod")->required();
  cmd->add_option("--name", opts->name, "pin sub-directory name")->capture_default_str();
  cmd->add_option("--agent-uid", opts->agent_uids, "UID confined to loopback + DNS (repeatable)")
      ->capture_default_str();
  cmd->add_option("--router-uid", opts->router_uids, "UID allowed to reach metadata (repeatable)")
      ->capture_default_str();
  cmd->add_option("--resolver", opts->resolvers, "DNS resolver IP[/len] agents may use on port 53");
  cmd->add_option("--metadata", *extra_metadata,
                  "extra metadata prefix to deny (adds to defaults)");
  cmd->add_option("--mode", *mode, "off | observe | enforce")
      ->check(mode_validator())
      ->capture_default_str();
  cmd->add_option("--admin-port", opts->admin_port,
                  "loopback admin port refused to agents (0 = none)")
      ->capture_default_str();
  cmd->add_option("--pin-dir", opts->pin_root, "bpffs directory for pins")->capture_default_str();
  cmd->callback([opts, mode, extra_metadata, sink] {
    sink([&]() -> int {
      AttachOptions o = *opts;
      o.mode = parse_guard_mode(*mode).value_or(GuardMode::enforce);
      o.metadata.insert(o.metadata.end(), extra_metadata->begin(), extra_metadata->end());
      auto report = attach_guard(o);
      if (!report) return fail("bpf attach", report.error());
      std::cout << "attached guard '" << o.name << "' (" << to_string(o.mode) << ") to "
                << o.cgroup_path << " (cgroup id " << report.value().cgroup_id << "), pinned under "
                << report.value().pin_dir << ": " << join(report.value().programs) << "\n";
      return 0;
    }());
  });
}

void register_detach(CLI::App& bpf, const ExitSink& sink) {
  auto name = std::make_shared<std::string>(kDefaultGuardName);
  auto pin_root = std::make_shared<std::string>(kDefaultPinRoot);
  auto* cmd = bpf.add_subcommand("detach", "Detach the guard and remove every pin it made");
  cmd->add_option("--name", *name, "guard name")->capture_default_str();
  cmd->add_option("--pin-dir", *pin_root, "bpffs directory for pins")->capture_default_str();
  cmd->callback([name, pin_root, sink] {
    sink([&]() -> int {
      if (auto s = detach_guard(*pin_root, *name); !s) return fail("bpf detach", s.error());
      std::cout << "detached guard '" << *name << "'\n";
      return 0;
    }());
  });
}

nlohmann::json status_json(const GuardStatus& s) {
  nlohmann::json links = nlohmann::json::array();
  for (const auto& l : s.links) {
    links.push_back({{"program", l.program},
                     {"attach_type", l.attach_type},
                     {"link_id", l.link_id},
                     {"prog_id", l.prog_id},
                     {"cgroup_id", l.cgroup_id},
                     {"cgroup_path", l.cgroup_path}});
  }
  nlohmann::json counters = nlohmann::json::array();
  for (const auto& c : s.counters) {
    counters.push_back(
        {{"hook", c.hook}, {"reason", c.reason}, {"denied", c.denied}, {"observed", c.observed}});
  }
  return {{"name", s.name},
          {"pin_dir", s.pin_dir},
          {"mode", to_string(s.mode)},
          {"admin_port", s.admin_port},
          {"agent_uids", s.agent_uids},
          {"router_uids", s.router_uids},
          {"resolvers", s.resolvers},
          {"metadata", s.metadata},
          {"links", links},
          {"counters", counters},
          {"events_lost", s.events_lost},
          {"quarantined_cgroups", s.quarantined_cgroups}};
}

void print_status_text(const GuardStatus& s) {
  std::cout << "guard " << s.name << " (" << s.pin_dir << ")\n"
            << "  mode:        " << to_string(s.mode) << "\n"
            << "  agent uids:  " << join_numbers(s.agent_uids) << "\n"
            << "  router uids: " << join_numbers(s.router_uids) << "\n"
            << "  resolvers:   " << join(s.resolvers) << "\n"
            << "  metadata:    " << join(s.metadata) << "\n"
            << "  admin port:  " << (s.admin_port ? std::to_string(s.admin_port) : "-") << "\n";
  for (const auto& l : s.links) {
    std::cout << "  attached:    " << (l.cgroup_path.empty() ? "(cgroup gone)" : l.cgroup_path)
              << " (cgroup id " << l.cgroup_id << ") " << l.attach_type << " link " << l.link_id
              << "\n";
  }
  std::cout << "  quarantined: " << join_numbers(s.quarantined_cgroups) << "\n";
  std::cout << "  counters (hook / reason: denied, observed):"
            << (s.counters.empty() ? " none" : "") << "\n";
  for (const auto& c : s.counters) {
    std::cout << "    " << c.hook << " / " << c.reason << ": " << c.denied << ", " << c.observed
              << "\n";
  }
  std::cout << "  events lost: " << s.events_lost << "\n";
}

void register_status(CLI::App& bpf, const ExitSink& sink) {
  auto name = std::make_shared<std::string>();
  auto pin_root = std::make_shared<std::string>(kDefaultPinRoot);
  auto json = std::make_shared<bool>(false);
  auto* cmd = bpf.add_subcommand("status", "Show mode, counters and attached cgroups");
  cmd->add_option("--name", *name, "only this guard (default: all)");
  cmd->add_option("--pin-dir", *pin_root, "bpffs directory for pins")->capture_default_str();
  cmd->add_flag("--json", *json, "machine-readable output");
  cmd->callback([name, pin_root, json, sink] {
    sink([&]() -> int {
      const auto support = check_guard_support();
      if (!support.ok) {
        std::cerr << "sallyport bpf status: warning: kernel guard unavailable: " << support.reason
                  << "\n";
        if (*json)
          std::cout << nlohmann::json{{"available", false},
                                      {"reason", support.reason},
                                      {"guards", nlohmann::json::array()}}
                           .dump()
                    << "\n";
        return kExitNotAttached;
      }
      auto statuses =
          read_guard_status(*pin_root, name->empty() ? std::nullopt : std::optional(*name));
      if (!statuses) return fail("bpf status", statuses.error());
      if (*json) {
        nlohmann::json guards = nlohmann::json::array();
        for (const auto& s : statuses.value()) guards.push_back(status_json(s));
        std::cout << nlohmann::json{{"available", true}, {"guards", guards}}.dump() << "\n";
      } else {
        for (const auto& s : statuses.value()) print_status_text(s);
        if (statuses.value().empty())
          std::cout << "no kernel guard attached under " << *pin_root << "\n";
      }
      if (statuses.value().empty()) return kExitNotAttached;
      return 0;
    }());
  });
}

void register_quarantine(CLI::App& bpf, const ExitSink& sink) {
  auto name = std::make_shared<std::string>();
  auto pin_root = std::make_shared<std::string>(kDefaultPinRoot);
  auto cgroup = std::make_shared<std::string>();
  auto state = std::make_shared<std::string>();
  auto* cmd =
      bpf.add_subcommand("quarantine", "Deny all non-loopback egress for every UID in a cgroup");
  cmd->add_option("--cgroup", *cgroup, "cgroup v2 directory to quarantine")->required();
  cmd->add_option("--name", *name, "guard to change (default: every guard covering the cgroup)");
  cmd->add_option("--pin-dir", *pin_root, "bpffs directory for pins")->capture_default_str();
  cmd->add_option("state", *state, "on | off")->required()->check(CLI::IsMember({"on", "off"}));
  cmd->callback([name, pin_root, cgroup, state, sink] {
    sink([&]() -> int {
      auto changed = set_guard_quarantine(
          *pin_root, name->empty() ? std::nullopt : std::optional(*name), *cgroup, *state == "on");
      if (!changed) return fail("bpf quarantine", changed.error());
      std::cout << "quarantine " << *state << " for " << *cgroup
                << " in guard(s): " << join(changed.value()) << "\n";
      return 0;
    }());
  });
}

void register_mode(CLI::App& bpf, const ExitSink& sink) {
  auto name = std::make_shared<std::string>(kDefaultGuardName);
  auto pin_root = std::make_shared<std::string>(kDefaultPinRoot);
  auto mode = std::make_shared<std::string>();
  auto* cmd =
      bpf.add_subcommand("mode", "Switch an attached guard between off, observe and enforce");
  cmd->add_option("--name", *name, "guard name")->capture_default_str();
  cmd->add_option("--pin-dir", *pin_root, "bpffs directory for pins")->capture_default_str();
  cmd->add_option("mode", *mode, "off | observe | enforce")->required()->check(mode_validator());
  cmd->callback([name, pin_root, mode, sink] {
    sink([&]() -> int {
      if (auto s = set_guard_mode(*pin_root, *name, *parse_guard_mode(*mode)); !s)
        return fail("bpf mode", s.error());
      std::cout << "guard '" << *name << "' mode " << *mode << "\n";
      return 0;
    }());
  });
}

}  // namespace

namespace {

void register_all(CLI::App& app, const ExitSink& sink) {
  auto* bpf = app.add_subcommand("bpf", "Kernel egress guard (eBPF cgroup programs)");
  bpf->require_subcommand(1);
  register_attach(*bpf, sink);
  register_detach(*bpf, sink);
  register_status(*bpf, sink);
  register_quarantine(*bpf, sink);
  register_mode(*bpf, sink);
  register_bpf_events_cli(*bpf, sink);
  register_probe_cli(app, sink);
}

}  // namespace

void register_bpf_cli(CLI::App& app) {
  register_all(app, [](int code) {
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

void register_bpf_cli(CLI::App& app, int& exit_code) {
  register_all(app, [&exit_code](int code) { exit_code = code; });
}

}  // namespace sallyport::bpf

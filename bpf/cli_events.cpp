// `bpf events` and `probe` subcommands (see cli.hpp).
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bpf/cli.hpp"
#include "bpf/cli_internal.hpp"
#include "bpf/deny_events.hpp"
#include "bpf/guard_loader.hpp"
#include "bpf/probe.hpp"

namespace sallyport::bpf {
namespace {

// "tenant/namespace/pod"
std::optional<PodIdentity> parse_identity(const std::string& text) {
  const auto a = text.find('/');
  const auto b = a == std::string::npos ? a : text.find('/', a + 1);
  if (b == std::string::npos || text.find('/', b + 1) != std::string::npos) return std::nullopt;
  PodIdentity id{text.substr(0, a), text.substr(a + 1, b - a - 1), text.substr(b + 1)};
  if (id.tenant.empty() || id.namespace_name.empty() || id.pod.empty()) return std::nullopt;
  return id;
}

struct EventsArgs {
  std::string name = kDefaultGuardName;
  std::string pin_root = kDefaultPinRoot;
  int count = 0;          // 0 = until timeout
  int timeout_ms = 5000;  // total wait
  std::string identity;
  std::vector<std::string> pod_map;
};

Result<AttributionConfig> attribution_from(const EventsArgs& args) {
  AttributionConfig config;
  if (!args.identity.empty()) {
    auto id = parse_identity(args.identity);
    if (!id)
      return Error{"--identity '" + args.identity + "': expected TENANT/NAMESPACE/POD", EINVAL};
    config.default_identity = *id;
  }
  for (const auto& entry : args.pod_map) {
    const auto eq = entry.find('=');
    auto id = eq == std::string::npos ? std::nullopt : parse_identity(entry.substr(eq + 1));
    if (!id)
      return Error{"--pod-map '" + entry + "': expected POD_UID=TENANT/NAMESPACE/POD", EINVAL};
    config.by_pod_uid[entry.substr(0, eq)] = *id;
  }
  return config;
}

int run_events(const EventsArgs& args) {
  auto config = attribution_from(args);
  if (!config) {
    std::cerr << "sallyport bpf events: error: " << config.error().message << "\n";
    return 2;
  }
  int seen = 0;
  auto reader = DenyEventReader::open(args.pin_root + "/" + args.name, std::move(config).value(),
                                      [&seen](const DenyEvent& e) {
                                        std::cout << deny_event_json(e) << "\n" << std::flush;
                                        ++seen;
                                      });
  if (!reader) {
    std::cerr << "sallyport bpf events: error: " << reader.error().message << "\n";
    return 1;
  }
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(args.timeout_ms);
  while (args.count == 0 || seen < args.count) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    if (auto n = reader.value().poll(std::min(left, std::chrono::milliseconds(100))); !n) {
      std::cerr << "sallyport bpf events: error: " << n.error().message << "\n";
      return 1;
    }
  }
  return args.count != 0 && seen < args.count ? 1 : 0;
}

}  // namespace

void register_bpf_events_cli(CLI::App& bpf, const ExitSink& sink) {
  auto args = std::make_shared<EventsArgs>();
  auto* cmd =
      bpf.add_subcommand("events", "Print deny events from the guard's ring buffer as JSON lines");
  cmd->add_option("--name", args->name, "guard name")->capture_default_str();
  cmd->add_option("--pin-dir", args->pin_root, "bpffs directory for pins")->capture_default_str();
  cmd->add_option("--count", args->count, "stop after N events (exit 1 if fewer arrive)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--timeout-ms", args->timeout_ms, "stop after this long")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--identity", args->identity, "default TENANT/NAMESPACE/POD for attribution");
  cmd->add_option("--pod-map", args->pod_map, "POD_UID=TENANT/NAMESPACE/POD (repeatable)");
  cmd->callback([args, sink] { sink(run_events(*args)); });
}

void register_probe_cli(CLI::App& app, const ExitSink& sink) {
  auto opts = std::make_shared<ProbeOptions>();
  auto json = std::make_shared<bool>(false);
  auto in_test_ns = std::make_shared<bool>(false);
  auto timeout_ms = std::make_shared<int>(1000);
  auto* cmd =
      app.add_subcommand("probe",
                         "Try what a hostile agent would (IMDS, C2, DNS, raw sockets) and show "
                         "what the kernel allowed. "
                         "Sends real packets: refuses to run in PID 1's network namespace.");
  cmd->add_flag("--json", *json, "machine-readable output");
  cmd->add_option("--resolver", opts->resolver,
                  "allowed DNS resolver (default: first nameserver in /etc/resolv.conf)");
  cmd->add_option("--imds", opts->imds, "metadata address (port 80)")->capture_default_str();
  cmd->add_option("--c2", opts->c2, "command-and-control HOST:PORT")->capture_default_str();
  cmd->add_option("--other-dns", opts->other_dns, "a DNS server that is not an allowed resolver")
      ->capture_default_str();
  cmd->add_option("--outside-udp", opts->outside_udp, "HOST:PORT for a UDP sendto outside")
      ->capture_default_str();
  cmd->add_option("--admin-port", opts->admin_port, "router admin port on loopback")
      ->capture_default_str();
  cmd->add_option("--timeout-ms", *timeout_ms, "per-operation timeout")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  cmd->add_flag("--i-am-in-a-test-namespace", *in_test_ns,
                "skip the check that this is not PID 1's network namespace");
  cmd->callback([opts, json, in_test_ns, timeout_ms, sink] {
    sink([&]() -> int {
      if (!*in_test_ns) {
        auto foreign = in_foreign_netns();
        if (!foreign || !foreign.value()) {
          std::cerr << "sallyport probe: refusing to send probe traffic: "
                    << (foreign ? "this is PID 1's network namespace (the host's)"
                                : "cannot compare with PID 1's network namespace (" +
                                      foreign.error().message + ")")
                    << ". Run it inside a pod or test network namespace, or pass "
                       "--i-am-in-a-test-namespace.\n";
          return 2;
        }
      }
      ProbeOptions o = *opts;
      o.timeout = std::chrono::milliseconds(*timeout_ms);
      const auto results = run_probe(o);
      if (*json) {
        std::cout << format_probe_json(results, static_cast<std::uint32_t>(::getuid())) << "\n";
      } else {
        std::cout << "probe as uid " << ::getuid() << "\n" << format_probe_table(results);
      }
      return 0;
    }());
  });
}

}  // namespace sallyport::bpf

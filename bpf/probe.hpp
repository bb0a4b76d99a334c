#pragma once
// `sallyport probe`: performs, as the calling user, what a hostile agent would try (IMDS, C2,
// DNS to a resolver of its choosing, v4-mapped metadata, raw/packet sockets, UDP out) with short
// timeouts, and reports per operation whether the kernel let it through.
//
// It SENDS PACKETS to those addresses, so the CLI refuses to run in PID 1's network namespace
// unless told it is in a test namespace (see probe_netns_guard).
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "bpf/result.hpp"

namespace sallyport::bpf {

struct ProbeOptions {
  std::string imds = "169.254.169.254";  // port 80, also tried as ::ffff:<imds>
  std::string c2 = "203.0.113.66:4444";  // host:port, TCP; raw ICMP goes to this host too
  std::string resolver;                  // allowed resolver; "" = first nameserver in resolv.conf
  std::string other_dns = "198.51.100.53";  // a host that is NOT a configured resolver
  std::string outside_udp = "198.51.100.10:9999";
  std::uint16_t loopback_port = 9;  // a loopback port; refused is fine (= reached)
  std::uint16_t admin_port = 8787;  // router admin port, refused to agents by the guard
  std::chrono::milliseconds timeout{1000};
};

enum class ProbeVerdict { allowed, blocked, skipped };

struct ProbeResult {
  std::string op;      // stable id, e.g. "imds-tcp"
  std::string target;  // "169.254.169.254:80"
  ProbeVerdict verdict = ProbeVerdict::skipped;
  int error = 0;        // errno of the failing step; 0 on success
  std::string blocker;  // "kernel-guard", "no-cap-net-raw", "network", "none"
  std::string detail;   // which step failed, or what answered
};

// Runs every operation in a fixed order. Never throws; each failure is a row.
std::vector<ProbeResult> run_probe(const ProbeOptions& options);

// Classifies a finished operation: errno -> verdict + blocker. `needs_net_raw` marks operations
// that also fail with EPERM when CAP_NET_RAW is missing; `has_net_raw` says whether we have it.
// ECONNREFUSED counts as allowed: the packet left and the peer answered.
ProbeResult classify_probe(std::string op, std::string target, int error, bool needs_net_raw,
                           bool has_net_raw, std::string detail);

const char* to_string(ProbeVerdict verdict);  // "ALLOWED" / "BLOCKED" / "SKIPPED"
std::string errno_name(int error);            // "EPERM", "-" for 0

// `op | target | result | errno | blocker` table with aligned columns.
std::string format_probe_table(const std::vector<ProbeResult>& results);
// {"uid":N,"results":[{"op","target","result","errno","blocker","detail"}…]}
std::string format_probe_json(const std::vector<ProbeResult>& results, std::uint32_t uid);

// ok(true) when this process is in a network namespace other than PID 1's; an error when that
// cannot be determined (e.g. /proc/1/ns/net unreadable for non-root users).
Result<bool> in_foreign_netns();

// First "nameserver" address in a resolv.conf-format file; "" if none.
std::string first_nameserver(const std::string& resolv_conf = "/etc/resolv.conf");

}  // namespace sallyport::bpf

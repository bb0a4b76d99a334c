// Probe classification and output formats (pure functions, unit-tested).
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "bpf/probe.hpp"

namespace sallyport::bpf {

const char* to_string(ProbeVerdict verdict) {
  switch (verdict) {
    case ProbeVerdict::allowed:
      return "ALLOWED";
    case ProbeVerdict::blocked:
      return "BLOCKED";
    case ProbeVerdict::skipped:
      return "SKIPPED";
  }
  return "UNKNOWN";
}

std::string errno_name(int error) {
  if (error == 0) return "-";
  const char* name = strerrorname_np(error);
  return name ? name : std::to_string(error);
}

ProbeResult classify_probe(std::string op, std::string target, int error, bool needs_net_raw,
                           bool has_net_raw, std::string detail) {
  ProbeResult r{std::move(op), std::move(target), ProbeVerdict::allowed, error,
                "none",        std::move(detail)};
  switch (error) {
    case 0:
    case ECONNREFUSED:  // the peer answered with a reset: the packet got out
      break;
    case EPERM:
    case EACCES:
      r.verdict = ProbeVerdict::blocked;
      // Without CAP_NET_RAW the kernel refuses raw/packet sockets before any BPF program runs.
      r.blocker = needs_net_raw && !has_net_raw ? "no-cap-net-raw" : "kernel-guard";
      break;
    default:  // ETIMEDOUT, ENETUNREACH, EHOSTUNREACH, …: dropped somewhere, not by this host's
              // guard
      r.verdict = ProbeVerdict::blocked;
      r.blocker = "network";
      break;
  }
  return r;
}

std::string format_probe_table(const std::vector<ProbeResult>& results) {
  std::size_t w_op = 2, w_target = 6;
  for (const auto& r : results) {
    w_op = std::max(w_op, r.op.size());
    w_target = std::max(w_target, r.target.size());
  }
  auto pad = [](const std::string& s, std::size_t w) {
    return s + std::string(w > s.size() ? w - s.size() : 0, ' ');
  };
  std::string out =
      pad("op", w_op) + " | " + pad("target", w_target) + " | result  | errno        | blocker\n";
  out += std::string(w_op, '-') + "-+-" + std::string(w_target, '-') +
         "-+---------+--------------+--------------\n";
  for (const auto& r : results) {
    out += pad(r.op, w_op) + " | " + pad(r.target, w_target) + " | " +
           pad(to_string(r.verdict), 7) + " | " + pad(errno_name(r.error), 12) + " | " + r.blocker +
           "\n";
  }
  return out;
}

std::string format_probe_json(const std::vector<ProbeResult>& results, std::uint32_t uid) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : results) {
    rows.push_back({{"op", r.op},
                    {"target", r.target},
                    {"result", to_string(r.verdict)},
                    {"errno", errno_name(r.error)},
                    {"blocker", r.blocker},
                    {"detail", r.detail}});
  }
  return nlohmann::json{{"uid", uid}, {"results", rows}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace sallyport::bpf

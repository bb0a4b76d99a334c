#include "blocklist/cli.hpp"

#include "common/redact.hpp"

#include <ctime>

namespace sallyport::blocklist {
namespace {

// "https://user@Host:8443/path" -> "Host"; anything without a scheme is returned as is.
std::string_view host_of_target(std::string_view target) {
  const auto scheme = target.find("://");
  if (scheme == std::string_view::npos) return target;
  std::string_view rest = target.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  if (rest.starts_with("[")) return rest.substr(0, rest.find(']') + 1);
  return rest.substr(0, rest.rfind(':') == std::string_view::npos ? rest.size() : rest.rfind(':'));
}

std::string format_time(const std::optional<std::chrono::system_clock::time_point>& when) {
  if (!when) return "never";
  const std::time_t t = std::chrono::system_clock::to_time_t(*when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

void print_decision(const Decision& decision, std::ostream& out) {
  out << "decision:   " << to_string(decision.verdict) << '\n'
      << "reason:     " << decision.reason << '\n';
  if (!decision.rule.empty()) out << "rule:       " << escape_untrusted(decision.rule) << '\n';
  if (!decision.detail.empty()) out << "detail:     " << escape_untrusted(decision.detail) << '\n';
}

}  // namespace

int print_blocklist_check(const EgressPolicy& policy, std::string_view target, std::ostream& out) {
  const std::string_view host = host_of_target(target);
  out << "target:     " << escape_untrusted(target) << '\n';
  if (host.empty()) {
    out << "error:      empty host (expected a host name, an IP address or an http(s) URL)\n";
    return 2;
  }
  const HostCheck check = policy.check_host(host);
  out << "normalized: " << (check.normalized_host.empty() ? "-" : check.normalized_host) << '\n';
  print_decision(check.decision, out);
  if (check.literal) {
    const Decision as_address = policy.check_address(*check.literal);
    out << "as resolved address: " << to_string(as_address.verdict) << " (" << as_address.reason
        << (as_address.rule.empty() ? "" : ", " + as_address.rule) << ")\n";
  }
  if (check.decision.reason == "host:invalid") return 2;
  return check.decision.allowed() ? 0 : 1;
}

int print_blocklist_stats(const BlocklistStore& store, std::ostream& out) {
  const BlocklistStats stats = store.stats();
  for (const auto& feed : stats.feeds) {
    out << "feed " << feed.name << " (" << escape_untrusted(feed.source) << ")\n"
        << "  loaded from:   " << (feed.loaded_from.empty() ? "-" : feed.loaded_from)
        << (feed.format.empty() ? "" : ", format " + feed.format) << '\n'
        << "  domains:       " << feed.domains << '\n'
        << "  ips:           " << feed.ips << '\n'
        << "  parse errors:  " << feed.parse_errors;
    for (const auto& issue : feed.first_errors) {
      out << "\n    line " << issue.line << ": " << escape_untrusted(issue.message);
    }
    out << '\n'
        << "  unsupported:   " << feed.unsupported << '\n'
        << "  skipped:       " << feed.skipped << '\n'
        << "  last refresh:  " << format_time(feed.last_refresh) << '\n'
        << "  last attempt:  " << format_time(feed.last_attempt) << '\n'
        << "  failures:      " << feed.failures << '\n';
    if (!feed.last_error.empty()) out << "  last error:    " << escape_untrusted(feed.last_error) << '\n';
  }
  out << "total: " << stats.total_domains << " unique domains, " << stats.total_ips << " IPs, "
      << stats.snapshot_bytes / 1024 << " KiB; refreshes " << stats.refreshes
      << ", refresh failures " << stats.refresh_failures << "; ready "
      << (stats.ready ? "yes" : "no") << '\n';
  return stats.ready ? 0 : 1;
}

}  // namespace sallyport::blocklist

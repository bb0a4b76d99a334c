#include "router/attest_facts.hpp"

#include "bpf/guard_loader.hpp"
#include "config/loader.hpp"
#include "governance/audit_segment.hpp"
#include "router/version.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <set>

namespace sallyport::router {
namespace {

constexpr std::size_t kMaxPolicyBytes = 1024 * 1024;     // same cap as the policy loader
constexpr std::uintmax_t kAuditTailBytes = 1024 * 1024;  // longest audit record we look back over

struct TailLine {
  std::optional<std::string> line;  // nullopt: the segment holds no complete record
  std::string error;
};

// The last '\n'-terminated line of `segment` (a torn tail after it is ignored, as recovery would).
TailLine last_complete_line(const std::filesystem::path& segment) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(segment, ec);
  if (ec) return {std::nullopt, segment.string() + ": " + ec.message()};
  std::ifstream in(segment, std::ios::binary);
  if (!in) return {std::nullopt, segment.string() + ": cannot open for reading"};
  const std::uintmax_t start = size > kAuditTailBytes ? size - kAuditTailBytes : 0;
  std::string data(static_cast<std::size_t>(size - start), '\0');
  in.seekg(static_cast<std::streamoff>(start));
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (!in) return {std::nullopt, segment.string() + ": read failed"};
  const auto end = data.rfind('\n');
  if (end == std::string::npos) {
    if (start > 0) return {std::nullopt, segment.string() + ": last record longer than 1 MiB"};
    return {};
  }
  const auto before = end == 0 ? std::string::npos : data.rfind('\n', end - 1);
  if (before == std::string::npos && start > 0) {
    return {std::nullopt, segment.string() + ": last record longer than 1 MiB"};
  }
  const std::size_t begin = before == std::string::npos ? 0 : before + 1;
  return {data.substr(begin, end - begin), ""};
}

// Every link of one guard is attached to the same cgroup.
std::string guard_cgroup(const bpf::GuardStatus& status, std::uint64_t& cgroup_id) {
  if (status.links.empty()) return "";
  const auto& link = status.links.front();
  cgroup_id = link.cgroup_id;
  return link.cgroup_path.empty() ? "(cgroup gone)" : link.cgroup_path;
}

}  // namespace

attest::StatementInputs base_inputs(const config::Config& cfg, std::string generated_by) {
  attest::StatementInputs in;
  in.sallyport_version = std::string(kVersion);
  in.generated_by = std::move(generated_by);
  in.generated_at = std::chrono::system_clock::now();
  in.identity = identity_facts(cfg);
  in.config_sha256 = config_sha256(cfg);
  in.kernel_guard = kernel_guard_facts(cfg.kernel_guard);
  return in;
}

attest::IdentityFacts identity_facts(const config::Config& cfg) {
  return {config::resolve_value(cfg.identity.sandbox), config::resolve_value(cfg.identity.tenant),
          config::resolve_value(cfg.identity.namespace_), config::resolve_value(cfg.identity.pod)};
}

std::string config_sha256(const config::Config& cfg) {
  return attest::canonical_sha256(config::to_masked_json(cfg));
}

ToolPolicyFactsResult tool_policy_facts(const std::optional<std::string>& file) {
  if (!file) return {attest::ToolPolicyFacts{}, ""};
  const auto read = config::read_small_file(*file, kMaxPolicyBytes);
  if (!read.content) return {std::nullopt, "tool policy " + *file + ": " + read.error};
  const auto parsed = nlohmann::json::parse(*read.content, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return {std::nullopt, "tool policy " + *file + ": not valid JSON"};
  return {attest::ToolPolicyFacts{*file, attest::canonical_sha256(parsed)}, ""};
}

attest::BlocklistFacts blocklist_facts(const blocklist::BlocklistStore& store) {
  attest::BlocklistFacts facts;
  attest::EntryDigest digest;
  store.for_each_entry_sorted([&digest](std::string_view entry) { digest.add(entry); });
  facts.sha256 = digest.hex();
  const auto stats = store.stats();
  facts.domains = stats.total_domains;
  facts.ips = stats.total_ips;
  for (const auto& feed : stats.feeds) {
    facts.feeds.push_back({feed.name, feed.domains, feed.ips, feed.last_refresh});
    if (feed.last_refresh && (!facts.last_refresh || *feed.last_refresh > *facts.last_refresh)) {
      facts.last_refresh = feed.last_refresh;
    }
  }
  return facts;
}

attest::KernelGuardFacts kernel_guard_facts(const config::KernelGuard& guard) {
  attest::KernelGuardFacts facts;
  const auto statuses = bpf::read_guard_status(guard.pin_dir, guard.name);
  if (!statuses) {
    facts.reason = "cannot read the kernel guard pins: " + statuses.error().message;
    return facts;
  }
  if (statuses.value().empty()) {
    facts.reason = "no kernel guard '" + guard.name + "' pinned under " + guard.pin_dir;
    return facts;
  }
  const auto& status = statuses.value().front();
  facts.attached = true;
  facts.name = status.name;
  facts.mode = bpf::to_string(status.mode);
  facts.cgroup = guard_cgroup(status, facts.cgroup_id);
  std::set<std::string> programs;
  for (const auto& link : status.links) programs.insert(link.program);
  facts.programs.assign(programs.begin(), programs.end());
  return facts;
}

attest::AuditHeadFacts read_audit_head(const std::filesystem::path& audit_dir) {
  attest::AuditHeadFacts facts;
  const auto segments = audit::list_segments(audit_dir);
  for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
    const auto tail = last_complete_line(*it);
    if (!tail.error.empty()) {
      facts.error = tail.error;
      return facts;
    }
    if (!tail.line) continue;  // empty segment: the chain continues in the one before
    const auto record = nlohmann::json::parse(*tail.line, nullptr, /*allow_exceptions=*/false);
    if (!record.is_object() || !record.contains("seq") || !record["seq"].is_number_unsigned() ||
        !record.contains("hash") || !record["hash"].is_string()) {
      facts.error = it->string() + ": last record has no seq/hash";
      return facts;
    }
    facts.seq = record["seq"].get<std::uint64_t>();
    facts.hash = record["hash"].get<std::string>();
    return facts;
  }
  return facts;
}

}  // namespace sallyport::router

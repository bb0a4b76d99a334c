#include "config/loader.hpp"

#include "config/json_reader.hpp"

#include <boost/url/parse.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

namespace sallyport::config {

extern const char* const kEmbeddedDefaultConfig;  // generated from config/default.json

namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Errors = std::vector<ConfigError>;
using Json = nlohmann::json;

void read_identity(const Json* node, Identity& out, Errors& errors) {
  JsonReader r(node, "/identity", errors);
  r.get_value_ref("sandbox", out.sandbox);
  r.get_value_ref("tenant", out.tenant);
  r.get_value_ref("namespace", out.namespace_);
  r.get_value_ref("pod", out.pod);
  r.finish();
}

void read_listeners(const Json* node, Listeners& out, Errors& errors) {
  JsonReader r(node, "/listeners", errors);
  r.get_host_port("proxy", out.proxy);
  r.get_host_port("gateway", out.gateway);
  r.get_host_port("admin", out.admin);
  r.finish();
}

void read_admin(const Json* node, Admin& out, Errors& errors) {
  JsonReader r(node, "/admin", errors);
  r.get_secret("token", out.token);
  r.get_bool("metrics_require_token", out.metrics_require_token);
  r.get_bool("allow_non_loopback_plaintext", out.allow_non_loopback_plaintext);
  r.finish();
}

void read_feeds(const Json* node, std::vector<Feed>& out, Errors& errors) {
  if (!node) return;
  std::vector<Feed> feeds;
  for (std::size_t i = 0; i < node->size(); ++i) {
    const std::string ptr = "/egress/feeds/" + std::to_string(i);
    JsonReader r(&(*node)[i], ptr, errors);
    if (!r.valid()) continue;
    Feed f;
    r.get_string("name", f.name, true);
    if (!r.has("name")) r.error(ptr + "/name", "required: a feed name such as \"oisd\"");
    r.get_string("url", f.url, true);
    r.get_string("file", f.file, true);
    r.get_enum("builtin", f.builtin, {"default"});
    r.get_enum("format", f.format, {"auto", "domains", "hosts", "abp", "wildcard"});
    const int sources = !f.url.empty() + !f.file.empty() + !f.builtin.empty();
    if (sources != 1) {
      r.error(ptr, "expected exactly one of \"url\", \"file\" or \"builtin\"");
    }
    if (!f.url.empty()) {
      const auto u = boost::urls::parse_absolute_uri(f.url);
      if (!u || (u->scheme() != "http" && u->scheme() != "https") || u->host().empty()) {
        r.error(ptr + "/url", "expected an http:// or https:// URL, got \"" + f.url + "\"");
      }
    }
    for (const auto& other : feeds) {
      if (other.name == f.name) r.error(ptr + "/name", "duplicate feed name \"" + f.name + "\"");
    }
    r.finish();
    feeds.push_back(std::move(f));
  }
  out = std::move(feeds);
}

void read_egress(const Json* node, Egress& out, Errors& errors) {
  JsonReader r(node, "/egress", errors);
  r.get_port_list("connect_ports", out.connect_ports);
  r.get_port_list("http_ports", out.http_ports);
  r.get_port_list("tls_ports", out.tls_ports);
  r.get_bool("require_sni", out.require_sni);
  r.get_string_list("allow", out.allow);
  r.get_string_list("deny", out.deny);
  r.get_string_list("allow_cidrs", out.allow_cidrs);
  r.get_string_list("deny_cidrs", out.deny_cidrs);
  r.get_enum("bare_ip", out.bare_ip, {"deny", "allow_cidrs"});
  r.get_string_list("high_risk_tlds", out.high_risk_tlds);
  read_feeds(r.array("feeds"), out.feeds, errors);
  r.get_duration_s("refresh", out.refresh, seconds(60), hours(24 * 7));
  if (const auto* limits = r.object("limits")) {
    JsonReader l(limits, "/egress/limits", errors);
    auto& lim = out.limits;
    l.get_uint("max_header_bytes", lim.max_header_bytes, 1024, 1024 * 1024);
    l.get_duration_ms("header_timeout", lim.header_timeout, milliseconds(100), hours(1));
    l.get_duration_ms("connect_timeout", lim.connect_timeout, milliseconds(100), hours(1));
    l.get_duration_ms("dns_timeout", lim.dns_timeout, milliseconds(100), hours(1));
    l.get_duration_ms("idle_timeout", lim.idle_timeout, milliseconds(100), hours(24));
    l.get_duration_ms("tunnel_lifetime", lim.tunnel_lifetime, seconds(1), hours(24 * 7));
    l.get_uint("max_connections", lim.max_connections, 1, 1000000);
    l.get_uint("max_connections_per_client", lim.max_connections_per_client, 1, 1000000);
    l.finish();
  }
  r.get_enum("mode", out.mode, {"enforce", "report"});
  r.get_string_list("resolvers", out.resolvers);
  r.get_secret("proxy_token", out.proxy_token);
  r.finish();
}

void read_providers(const Json* node, std::vector<Provider>& out, Errors& errors) {
  if (!node) return;
  std::vector<Provider> providers;
  for (std::size_t i = 0; i < node->size(); ++i) {
    const std::string ptr = "/providers/" + std::to_string(i);
    JsonReader r(&(*node)[i], ptr, errors);
    if (!r.valid()) continue;
    Provider p;
    for (const char* required : {"name", "kind", "base_url"}) {
      if (!r.has(required)) r.error(ptr + "/" + required, "required key is missing");
    }
    r.get_string("name", p.name, true);
    r.get_enum("kind", p.kind, {"openai", "azure_openai", "anthropic"});
    r.get_string("base_url", p.base_url, true);
    if (!p.base_url.empty()) {
      const auto u = boost::urls::parse_absolute_uri(p.base_url);
      if (!u || (u->scheme() != "http" && u->scheme() != "https") || u->host().empty()) {
        r.error(ptr + "/base_url", "expected an http:// or https:// URL, got \"" + p.base_url + "\"");
      }
    }
    r.get_secret("api_key", p.api_key);
    r.get_optional_string("ca_file", p.ca_file);
    r.get_string_list("models", p.models);
    r.get_optional_string("api_version", p.api_version);
    if (p.kind == "azure_openai" && !p.api_version) {
      r.error(ptr + "/api_version", "required for kind \"azure_openai\", e.g. \"2024-10-21\"");
    }
    for (const auto& other : providers) {
      if (other.name == p.name) r.error(ptr + "/name", "duplicate provider name \"" + p.name + "\"");
    }
    r.finish();
    providers.push_back(std::move(p));
  }
  out = std::move(providers);
}

// Header names sallyport sets itself (framing, session, content negotiation) cannot be injected.
bool reserved_mcp_header(std::string lower) {
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static constexpr const char* kReserved[] = {
      "host", "content-length", "content-type", "transfer-encoding", "connection", "keep-alive",
      "upgrade", "te", "trailer", "accept", "accept-encoding", "mcp-session-id",
      "mcp-protocol-version", "last-event-id", "cookie"};
  for (const char* r : kReserved) {
    if (lower == r) return true;
  }
  return lower.starts_with("x-sallyport-") || lower.starts_with("proxy-");
}

bool http_token(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (const char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && !std::strchr("!#$%&'*+-.^_`|~", c)) return false;
  }
  return true;
}

void read_mcp_server_url(JsonReader& r, const std::string& ptr, const std::string& url) {
  const auto u = boost::urls::parse_absolute_uri(url);
  if (!u || (u->scheme() != "http" && u->scheme() != "https") || u->host().empty() ||
      u->has_userinfo() || u->has_query() || u->has_fragment()) {
    r.error(ptr + "/url", "expected an http:// or https:// URL without credentials, query or fragment, got \"" + url + "\"");
    return;
  }
  const std::string host = u->host();
  const bool loopback = host == "localhost" || host == "[::1]" || host.starts_with("127.");
  if (u->scheme() == "http" && !loopback) {
    r.error(ptr + "/url", "http:// is only allowed for loopback hosts; use https://");
  }
}

void read_mcp_servers(const Json* node, std::vector<McpServer>& out, Errors& errors) {
  if (!node) return;
  std::vector<McpServer> servers;
  for (std::size_t i = 0; i < node->size(); ++i) {
    const std::string ptr = "/mcp_servers/" + std::to_string(i);
    JsonReader r(&(*node)[i], ptr, errors);
    if (!r.valid()) continue;
    McpServer m;
    for (const char* required : {"name", "url"}) {
      if (!r.has(required)) r.error(ptr + "/" + required, "required key is missing");
    }
    r.get_string("name", m.name, true);
    const bool name_ok = !m.name.empty() && m.name.size() <= 64 &&
        m.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == std::string::npos;
    if (!m.name.empty() && !name_ok) r.error(ptr + "/name", "expected 1-64 characters from [A-Za-z0-9_.-] (it is the /mcp/<name> path)");
    r.get_string("url", m.url, true);
    if (!m.url.empty()) read_mcp_server_url(r, ptr, m.url);
    r.get_secret("auth", m.auth);
    if (const auto* headers = r.object("headers")) {
      JsonReader h(headers, ptr + "/headers", errors);
      for (const auto& [name, value] : headers->items()) {
        const std::string hptr = ptr + "/headers/" + escape_pointer_token(name);
        if (!http_token(name) || reserved_mcp_header(name)) {
          h.error(hptr, "expected a header name sallyport does not set itself (not Host, Content-*, Accept, Mcp-*, Connection, ...)");
        }
        std::string lower = name;
        for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (m.auth && lower == "authorization") {
          h.error(hptr, "set either \"auth\" or an Authorization header, not both");
        }
        std::optional<SecretRef> secret;
        h.get_secret(name.c_str(), secret);
        if (secret) m.headers.emplace_back(name, *secret);
      }
      h.finish();
    }
    r.get_optional_string("ca_file", m.ca_file);
    r.get_duration_ms("timeout", m.timeout, milliseconds(100), hours(1));
    for (const auto& other : servers) {
      if (other.name == m.name) r.error(ptr + "/name", "duplicate MCP server name \"" + m.name + "\"");
    }
    r.finish();
    servers.push_back(std::move(m));
  }
  out = std::move(servers);
}

void read_gateway(const Json* node, Gateway& out, Errors& errors) {
  JsonReader r(node, "/gateway", errors);
  r.get_uint("max_request_bytes", out.max_request_bytes, 1024, 256ull * 1024 * 1024);
  r.get_duration_ms("connect_timeout", out.connect_timeout, milliseconds(100), hours(1));
  r.get_duration_ms("first_byte_timeout", out.first_byte_timeout, milliseconds(100), hours(1));
  r.get_duration_ms("idle_timeout", out.idle_timeout, milliseconds(100), hours(1));
  r.finish();
}

void read_budgets(const Json* node, Budgets& out, Errors& errors) {
  JsonReader r(node, "/budgets", errors);
  r.get_uint("per_request_tokens", out.per_request_tokens, 1, 100'000'000);
  r.get_uint("daily_tokens", out.daily_tokens, 1, 1'000'000'000'000ull);
  r.get_enum("over_max_tokens", out.over_max_tokens, {"reject", "clamp"});
  r.finish();
}

void read_rate_limits(const Json* node, RateLimits& out, Errors& errors) {
  JsonReader r(node, "/rate_limits", errors);
  r.get_uint("rpm", out.rpm, 1, 1'000'000);
  r.get_uint("tpm", out.tpm, 1, 10'000'000'000ull);
  r.get_uint("max_concurrent", out.max_concurrent, 1, 100'000);
  r.get_uint("queue", out.queue, 0, 1'000'000);
  r.finish();
}

void read_safety(const Json* node, Safety& out, Errors& errors) {
  JsonReader r(node, "/safety", errors);
  r.get_enum("floor", out.floor, {"safe", "low", "medium", "high"});
  if (const auto* shield = r.object("prompt_shield")) {
    JsonReader s(shield, "/safety/prompt_shield", errors);
    s.get_enum("mode", out.prompt_shield.mode, {"off", "observe", "enforce"});
    s.get_string_list("patterns", out.prompt_shield.patterns);
    s.finish();
  }
  r.finish();
}

void read_trust(const Json* node, Trust& out, Errors& errors) {
  JsonReader r(node, "/trust", errors);
  r.get_uint("initial", out.initial, 0, 1000);
  r.get_uint("threshold", out.threshold, 0, 1000);
  if (const auto* tiers = r.array("tiers")) {
    if (tiers->size() != 5) r.error("/trust/tiers", "expected exactly 5 tiers {name, min}");
    std::vector<TrustTier> parsed;
    for (std::size_t i = 0; i < tiers->size(); ++i) {
      const std::string ptr = "/trust/tiers/" + std::to_string(i);
      JsonReader t(&(*tiers)[i], ptr, errors);
      TrustTier tier;
      t.get_string("name", tier.name, true);
      t.get_uint("min", tier.min, 0, 1000);
      if (!parsed.empty() && tier.min <= parsed.back().min) {
        t.error(ptr + "/min", "expected tiers in ascending order of min");
      }
      if (i == 0 && tier.min != 0) t.error(ptr + "/min", "the first tier must start at 0");
      t.finish();
      parsed.push_back(tier);
    }
    out.tiers = std::move(parsed);
  }
  if (const auto* penalties = r.object("penalties")) {
    static constexpr const char* kEvents[] = {"egress_blocked", "imds_attempt", "tool_denied",
                                              "jailbreak", "budget_exhausted", "kernel_deny"};
    JsonReader p(penalties, "/trust/penalties", errors);
    for (const char* event : kEvents) {
      for (auto& [name, weight] : out.penalties) {
        if (name == event) p.get_uint(event, weight, 0, 1000);
      }
    }
    p.finish();
  }
  if (const auto* recovery = r.object("recovery")) {
    JsonReader rc(recovery, "/trust/recovery", errors);
    rc.get_uint("per_clean_request", out.recovery_per_clean_request, 0, 1000);
    rc.get_uint("max_per_hour", out.recovery_max_per_hour, 0, 1000);
    rc.finish();
  }
  r.finish();
}

void read_sinks(const Json* node, std::vector<AuditSink>& out, Errors& errors) {
  if (!node) return;
  std::vector<AuditSink> sinks;
  for (std::size_t i = 0; i < node->size(); ++i) {
    const std::string ptr = "/audit/sinks/" + std::to_string(i);
    JsonReader r(&(*node)[i], ptr, errors);
    if (!r.valid()) continue;
    AuditSink s;
    if (!r.has("name")) r.error(ptr + "/name", "required key is missing");
    if (!r.has("kind")) r.error(ptr + "/kind", "required: \"syslog\" or \"http\"");
    r.get_string("name", s.name, true);
    r.get_enum("kind", s.kind, {"syslog", "http"});
    if (s.kind == "syslog") {
      if (!r.has("address")) r.error(ptr + "/address", "required for syslog: \"host:port\"");
      r.get_host_port("address", s.address);
      r.get_enum("transport", s.transport, {"tcp", "tls"});
      r.get_optional_string("ca_file", s.ca_file);
    } else if (s.kind == "http") {
      if (!r.has("url")) r.error(ptr + "/url", "required for http: an http(s):// URL");
      r.get_string("url", s.url, true);
      const auto u = boost::urls::parse_absolute_uri(s.url);
      if (r.has("url") && (!u || (u->scheme() != "http" && u->scheme() != "https"))) {
        r.error(ptr + "/url", "expected an http:// or https:// URL");
      }
      r.get_secret("token", s.token);
      r.get_uint("batch", s.batch, 1, 100000);
      r.get_optional_string("ca_file", s.ca_file);
    }
    r.finish();
    sinks.push_back(std::move(s));
  }
  out = std::move(sinks);
}

void read_audit(const Json* node, Audit& out, Errors& errors) {
  JsonReader r(node, "/audit", errors);
  r.get_string("dir", out.dir, true);
  r.get_enum("fsync", out.fsync, {"record", "group"});
  r.get_duration_ms("group_interval", out.group_interval, milliseconds(1), seconds(10));
  r.get_uint("checkpoint_every", out.checkpoint_every, 1, 100'000'000);
  r.get_duration_s("checkpoint_interval", out.checkpoint_interval, seconds(1), hours(24));
  if (const auto* rotate = r.object("rotate")) {
    JsonReader rr(rotate, "/audit/rotate", errors);
    rr.get_uint("max_bytes", out.rotate_bytes, 4096, 1ull << 40);
    rr.get_duration_s("max_age", out.rotate_interval, seconds(60), hours(24 * 365));
    rr.finish();
  }
  r.get_enum("on_failure", out.on_failure, {"fail_closed", "fail_open"});
  read_sinks(r.array("sinks"), out.sinks, errors);
  r.finish();
}

void read_state_backend(const Json* node, StateBackend& out, Errors& errors) {
  JsonReader r(node, "/state_backend", errors);
  r.get_enum("kind", out.kind, {"local", "redis"});
  r.get_string("url", out.url, true);
  r.get_optional_string("ca_file", out.ca_file);
  r.get_enum("on_unavailable", out.on_unavailable, {"fail_closed", "fail_open"});
  r.get_optional_string("username", out.username);
  r.get_secret("password", out.password);
  r.get_optional_string("server_name", out.server_name);
  r.get_duration_ms("timeout", out.timeout, milliseconds(1), seconds(10));
  r.get_duration_ms("connect_timeout", out.connect_timeout, milliseconds(10), seconds(60));
  r.get_uint("pool_size", out.pool_size, 1, 16);
  r.get_string("key_prefix", out.key_prefix, true);
  if (const auto* tenant = r.object("tenant")) {
    JsonReader t(tenant, "/state_backend/tenant", errors);
    t.get_uint("daily_tokens", out.tenant_daily_tokens, 0, 1ull << 50);
    t.get_uint("rpm", out.tenant_rpm, 0, 1'000'000'000);
    t.get_uint("tpm", out.tenant_tpm, 0, 1ull << 50);
    t.finish();
  }
  if (out.kind == "redis" && out.url.rfind("redis://", 0) != 0 && out.url.rfind("rediss://", 0) != 0) {
    r.error("/state_backend/url", "required for redis: \"redis://host:port\" or \"rediss://host:port\"");
  }
  if (const auto at = out.url.find('@'); at != std::string::npos &&
      out.url.find(':', out.url.find("://") + 3) < at) {
    r.error("/state_backend/url", "must not carry a password (secrets are never inline): use "
            "state_backend.password {\"env\": NAME} or {\"file\": PATH}");
  }
  r.finish();
}

void read_approvals(const Json* node, Approvals& out, Errors& errors) {
  if (!node) return;
  JsonReader r(node, "/policy/approvals", errors);
  r.get_duration_s("timeout", out.timeout, seconds(1), hours(24));
  r.get_uint("max_pending", out.max_pending, 1, 100'000);
  if (const auto* hook = r.object("webhook")) {
    JsonReader w(hook, "/policy/approvals/webhook", errors);
    ApprovalWebhook webhook;
    if (!w.has("url")) w.error("/policy/approvals/webhook/url", "required: an http(s):// URL");
    w.get_string("url", webhook.url, true);
    const auto u = boost::urls::parse_absolute_uri(webhook.url);
    if (w.has("url") && (!u || (u->scheme() != "http" && u->scheme() != "https") ||
                         u->host().empty() || u->has_userinfo())) {
      w.error("/policy/approvals/webhook/url",
              "expected an http:// or https:// URL without user:password (use \"token\")");
    }
    w.get_secret("token", webhook.token);
    w.get_optional_string("ca_file", webhook.ca_file);
    w.get_duration_ms("timeout", webhook.timeout, milliseconds(100), seconds(60));
    w.get_uint("retries", webhook.retries, 0, 10);
    w.finish();
    out.webhook = std::move(webhook);
  }
  r.finish();
}

void read_kernel_guard(const Json* node, KernelGuard& out, Errors& errors) {
  JsonReader r(node, "/kernel_guard", errors);
  r.get_bool("enabled", out.enabled);
  r.get_string("pin_dir", out.pin_dir, true);
  r.get_string("name", out.name, true);
  r.get_uid_list("agent_uids", out.agent_uids);
  r.get_uid_list("router_uids", out.router_uids);
  r.get_string_list("resolvers", out.resolvers);
  r.get_enum("mode", out.mode, {"off", "observe", "enforce"});
  r.get_optional_string("agent_cgroup", out.agent_cgroup);
  if (out.agent_cgroup && !out.agent_cgroup->starts_with("/")) {
    r.error("/kernel_guard/agent_cgroup",
            "expected an absolute cgroup v2 directory such as \"/sys/fs/cgroup/agent\"");
  }
  r.finish();
}

void read_log(const Json* node, Log& out, Errors& errors) {
  JsonReader r(node, "/log", errors);
  r.get_enum("format", out.format, {"json", "text"});
  r.get_enum("level", out.level, {"debug", "info", "warn", "error"});
  r.finish();
}

}  // namespace

std::string ConfigError::to_string() const {
  return (pointer.empty() ? std::string("(document)") : pointer) + ": " + message;
}

std::string SecretRef::describe() const {
  return (kind == Kind::env ? "env:" : "file:") + name;
}

LoadResult parse_config(std::string_view json_text, std::string_view source) {
  LoadResult result;
  result.source = std::string(source);
  Json doc;
  try {
    doc = Json::parse(json_text);
  } catch (const Json::parse_error& e) {
    result.errors.push_back({"", std::string("invalid JSON: ") + e.what()});
    return result;
  }
  Errors& errors = result.errors;
  Config cfg;
  JsonReader root(&doc, "", errors);
  if (!root.valid()) return result;
  read_identity(root.object("identity"), cfg.identity, errors);
  read_listeners(root.object("listeners"), cfg.listeners, errors);
  read_admin(root.object("admin"), cfg.admin, errors);
  root.get_string("state_dir", cfg.state_dir, true);
  read_egress(root.object("egress"), cfg.egress, errors);
  read_providers(root.array("providers"), cfg.providers, errors);
  read_mcp_servers(root.array("mcp_servers"), cfg.mcp_servers, errors);
  read_gateway(root.object("gateway"), cfg.gateway, errors);
  read_budgets(root.object("budgets"), cfg.budgets, errors);
  read_rate_limits(root.object("rate_limits"), cfg.rate_limits, errors);
  read_safety(root.object("safety"), cfg.safety, errors);
  if (const auto* policy = root.object("policy")) {
    JsonReader p(policy, "/policy", errors);
    p.get_optional_string("file", cfg.policy.file);
    read_approvals(p.object("approvals"), cfg.policy.approvals, errors);
    p.finish();
  }
  read_trust(root.object("trust"), cfg.trust, errors);
  read_audit(root.object("audit"), cfg.audit, errors);
  read_state_backend(root.object("state_backend"), cfg.state_backend, errors);
  read_kernel_guard(root.object("kernel_guard"), cfg.kernel_guard, errors);
  read_log(root.object("log"), cfg.log, errors);
  root.get_uint("worker_threads", cfg.worker_threads, 0, 256);
  root.finish();
  if (cfg.budgets.per_request_tokens > cfg.budgets.daily_tokens) {
    errors.push_back({"/budgets/per_request_tokens", "must not exceed /budgets/daily_tokens"});
  }
  if (cfg.listeners.proxy == cfg.listeners.gateway || cfg.listeners.proxy == cfg.listeners.admin ||
      cfg.listeners.gateway == cfg.listeners.admin) {
    errors.push_back({"/listeners", "proxy, gateway and admin need distinct addresses"});
  }
  if (errors.empty()) result.config = std::move(cfg);
  return result;
}

FileRead read_small_file(const std::string& path, std::size_t max_bytes) {
  FileRead out;
  // O_NONBLOCK: opening a FIFO put in the file's place must not hang start-up or a SIGHUP
  // reload; the fstat on this same fd then rejects anything but a regular file.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    out.error = path + ": cannot open: " + std::strerror(errno);
    return out;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    out.error = path + ": not a regular file";
    ::close(fd);
    return out;
  }
  if (static_cast<std::size_t>(st.st_size) > max_bytes) {
    out.error = path + ": larger than " + std::to_string(max_bytes) + " bytes";
    ::close(fd);
    return out;
  }
  std::string content;
  content.resize(static_cast<std::size_t>(st.st_size));
  std::size_t off = 0;
  while (off < content.size()) {
    const ssize_t n = ::read(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += static_cast<std::size_t>(n);
  }
  ::close(fd);
  content.resize(off);
  out.content = std::move(content);
  return out;
}

LoadResult load_config_file(const std::string& path) {
  const auto file = read_small_file(path, 1024 * 1024);
  if (!file.content) {
    LoadResult r;
    r.source = path;
    r.errors.push_back({"", file.error});
    return r;
  }
  return parse_config(*file.content, path);
}

std::string_view default_config_json() { return kEmbeddedDefaultConfig; }

LoadResult load_default_config() { return parse_config(default_config_json(), "<embedded default>"); }

SecretValue resolve_secret(const SecretRef& ref) {
  SecretValue out;
  if (ref.kind == SecretRef::Kind::env) {
    const char* v = std::getenv(ref.name.c_str());
    if (!v || !*v) out.error = "environment variable " + ref.name + " is not set";
    else out.value = v;
    return out;
  }
  auto file = read_small_file(ref.name, 64 * 1024);
  if (!file.content) {
    out.error = file.error;
    return out;
  }
  std::string s = std::move(*file.content);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  if (s.empty()) out.error = ref.name + ": secret file is empty";
  else out.value = std::move(s);
  return out;
}

std::string resolve_value(const ValueRef& ref) {
  if (ref.env) {
    if (const char* v = std::getenv(ref.env->c_str()); v && *v) return v;
  }
  return ref.literal;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::uint64_t n = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || p == text.data()) return std::nullopt;
  const std::string_view unit(p, static_cast<std::size_t>(text.data() + text.size() - p));
  std::uint64_t mul = 0;
  if (unit == "ms") mul = 1;
  else if (unit == "s") mul = 1000;
  else if (unit == "m") mul = 60'000;
  else if (unit == "h") mul = 3'600'000;
  else if (unit == "d") mul = 86'400'000;
  else return std::nullopt;
  if (n > (1ull << 50) / mul) return std::nullopt;
  return std::chrono::milliseconds(n * mul);
}

std::string format_duration(std::chrono::milliseconds d) {
  const auto ms = static_cast<std::uint64_t>(d.count());
  if (ms % 86'400'000 == 0 && ms) return std::to_string(ms / 86'400'000) + "d";
  if (ms % 3'600'000 == 0 && ms) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0 && ms) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0 && ms) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace sallyport::config

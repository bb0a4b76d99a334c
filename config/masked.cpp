// The effective config as JSON, in the same shape the loader reads. Secrets are references
// ({"env": NAME} / {"file": PATH}), never values, so the output is safe to show in /admin/config
// and it parses back into the same Config.
#include "config/loader.hpp"

#include <nlohmann/json.hpp>

namespace sallyport::config {
namespace {

using Json = nlohmann::json;

Json secret_json(const std::optional<SecretRef>& ref) {
  if (!ref) return nullptr;
  return Json{{ref->kind == SecretRef::Kind::env ? "env" : "file", ref->name}};
}

Json value_json(const ValueRef& ref) {
  if (ref.env) return Json{{"env", *ref.env}};
  return ref.literal;
}

std::string ms(std::chrono::milliseconds d) { return format_duration(d); }

Json egress_json(const Egress& e) {
  Json feeds = Json::array();
  for (const auto& f : e.feeds) {
    Json j{{"name", f.name}, {"format", f.format}};
    if (!f.url.empty()) j["url"] = f.url;
    if (!f.file.empty()) j["file"] = f.file;
    if (!f.builtin.empty()) j["builtin"] = f.builtin;
    feeds.push_back(std::move(j));
  }
  const auto& l = e.limits;
  Json j{{"connect_ports", e.connect_ports},
         {"http_ports", e.http_ports},
         {"tls_ports", e.tls_ports},
         {"require_sni", e.require_sni},
         {"allow", e.allow},
         {"deny", e.deny},
         {"allow_cidrs", e.allow_cidrs},
         {"deny_cidrs", e.deny_cidrs},
         {"bare_ip", e.bare_ip},
         {"high_risk_tlds", e.high_risk_tlds},
         {"feeds", feeds},
         {"refresh", ms(e.refresh)},
         {"limits",
          {{"max_header_bytes", l.max_header_bytes},
           {"header_timeout", ms(l.header_timeout)},
           {"connect_timeout", ms(l.connect_timeout)},
           {"dns_timeout", ms(l.dns_timeout)},
           {"idle_timeout", ms(l.idle_timeout)},
           {"tunnel_lifetime", ms(l.tunnel_lifetime)},
           {"max_connections", l.max_connections},
           {"max_connections_per_client", l.max_connections_per_client}}},
         {"mode", e.mode},
         {"resolvers", e.resolvers}};
  if (e.proxy_token) j["proxy_token"] = secret_json(e.proxy_token);
  return j;
}

Json providers_json(const std::vector<Provider>& providers) {
  Json out = Json::array();
  for (const auto& p : providers) {
    Json j{{"name", p.name}, {"kind", p.kind}, {"base_url", p.base_url}, {"models", p.models}};
    if (p.api_key) j["api_key"] = secret_json(p.api_key);
    if (p.ca_file) j["ca_file"] = *p.ca_file;
    if (p.api_version) j["api_version"] = *p.api_version;
    out.push_back(std::move(j));
  }
  return out;
}

Json mcp_servers_json(const std::vector<McpServer>& servers) {
  Json out = Json::array();
  for (const auto& m : servers) {
    Json j{{"name", m.name}, {"url", m.url}, {"timeout", ms(m.timeout)}};
    if (m.auth) j["auth"] = secret_json(m.auth);
    if (!m.headers.empty()) {
      j["headers"] = Json::object();
      for (const auto& [name, ref] : m.headers) j["headers"][name] = secret_json(std::optional<SecretRef>(ref));
    }
    if (m.ca_file) j["ca_file"] = *m.ca_file;
    out.push_back(std::move(j));
  }
  return out;
}

Json approvals_json(const Approvals& a) {
  Json j{{"timeout", ms(a.timeout)}, {"max_pending", a.max_pending}};
  if (a.webhook) {
    const auto& w = *a.webhook;
    j["webhook"] = {{"url", w.url}, {"timeout", ms(w.timeout)}, {"retries", w.retries}};
    if (w.token) j["webhook"]["token"] = secret_json(w.token);
    if (w.ca_file) j["webhook"]["ca_file"] = *w.ca_file;
  }
  return j;
}

Json trust_json(const Trust& t) {
  Json tiers = Json::array();
  for (const auto& tier : t.tiers) tiers.push_back({{"name", tier.name}, {"min", tier.min}});
  Json penalties = Json::object();
  for (const auto& [name, weight] : t.penalties) penalties[name] = weight;
  return {{"initial", t.initial},
          {"threshold", t.threshold},
          {"tiers", tiers},
          {"penalties", penalties},
          {"recovery",
           {{"per_clean_request", t.recovery_per_clean_request},
            {"max_per_hour", t.recovery_max_per_hour}}}};
}

Json audit_json(const Audit& a) {
  Json sinks = Json::array();
  for (const auto& s : a.sinks) {
    Json j{{"name", s.name}, {"kind", s.kind}};
    if (s.kind == "syslog") {
      j["address"] = s.address;
      j["transport"] = s.transport;
    } else {
      j["url"] = s.url;
      j["batch"] = s.batch;
      if (s.token) j["token"] = secret_json(s.token);
    }
    if (s.ca_file) j["ca_file"] = *s.ca_file;
    sinks.push_back(std::move(j));
  }
  Json j{{"fsync", a.fsync},
         {"group_interval", ms(a.group_interval)},
         {"checkpoint_every", a.checkpoint_every},
         {"checkpoint_interval", ms(a.checkpoint_interval)},
         {"rotate", {{"max_bytes", a.rotate_bytes}, {"max_age", ms(a.rotate_interval)}}},
         {"on_failure", a.on_failure},
         {"sinks", sinks}};
  if (!a.dir.empty()) j["dir"] = a.dir;
  return j;
}

}  // namespace

Json to_masked_json(const Config& c) {
  Json j;
  j["identity"] = {{"sandbox", value_json(c.identity.sandbox)},
                   {"tenant", value_json(c.identity.tenant)},
                   {"namespace", value_json(c.identity.namespace_)},
                   {"pod", value_json(c.identity.pod)}};
  j["listeners"] = {{"proxy", c.listeners.proxy},
                    {"gateway", c.listeners.gateway},
                    {"admin", c.listeners.admin}};
  j["admin"] = {{"metrics_require_token", c.admin.metrics_require_token},
                {"allow_non_loopback_plaintext", c.admin.allow_non_loopback_plaintext}};
  if (c.admin.token) j["admin"]["token"] = secret_json(c.admin.token);
  j["state_dir"] = c.state_dir;
  j["egress"] = egress_json(c.egress);
  j["providers"] = providers_json(c.providers);
  j["mcp_servers"] = mcp_servers_json(c.mcp_servers);
  j["gateway"] = {{"max_request_bytes", c.gateway.max_request_bytes},
                  {"connect_timeout", ms(c.gateway.connect_timeout)},
                  {"first_byte_timeout", ms(c.gateway.first_byte_timeout)},
                  {"idle_timeout", ms(c.gateway.idle_timeout)}};
  j["budgets"] = {{"per_request_tokens", c.budgets.per_request_tokens},
                  {"daily_tokens", c.budgets.daily_tokens},
                  {"over_max_tokens", c.budgets.over_max_tokens}};
  j["rate_limits"] = {{"rpm", c.rate_limits.rpm},
                      {"tpm", c.rate_limits.tpm},
                      {"max_concurrent", c.rate_limits.max_concurrent},
                      {"queue", c.rate_limits.queue}};
  j["safety"] = {{"floor", c.safety.floor},
                 {"prompt_shield",
                  {{"mode", c.safety.prompt_shield.mode},
                   {"patterns", c.safety.prompt_shield.patterns}}}};
  j["policy"] = Json::object();
  if (c.policy.file) j["policy"]["file"] = *c.policy.file;
  j["policy"]["approvals"] = approvals_json(c.policy.approvals);
  j["trust"] = trust_json(c.trust);
  j["audit"] = audit_json(c.audit);
  j["state_backend"] = {{"kind", c.state_backend.kind},
                        {"on_unavailable", c.state_backend.on_unavailable}};
  if (!c.state_backend.url.empty()) j["state_backend"]["url"] = c.state_backend.url;
  if (c.state_backend.ca_file) j["state_backend"]["ca_file"] = *c.state_backend.ca_file;
  if (c.state_backend.kind == "redis") {
    auto& sb = j["state_backend"];
    if (c.state_backend.username) sb["username"] = *c.state_backend.username;
    if (c.state_backend.password) sb["password"] = secret_json(c.state_backend.password);
    if (c.state_backend.server_name) sb["server_name"] = *c.state_backend.server_name;
    sb["timeout"] = format_duration(c.state_backend.timeout);
    sb["connect_timeout"] = format_duration(c.state_backend.connect_timeout);
    sb["pool_size"] = c.state_backend.pool_size;
    sb["key_prefix"] = c.state_backend.key_prefix;
    sb["tenant"] = {{"daily_tokens", c.state_backend.tenant_daily_tokens},
                    {"rpm", c.state_backend.tenant_rpm},
                    {"tpm", c.state_backend.tenant_tpm}};
  }
  j["kernel_guard"] = {{"enabled", c.kernel_guard.enabled},
                       {"pin_dir", c.kernel_guard.pin_dir},
                       {"name", c.kernel_guard.name},
                       {"agent_uids", c.kernel_guard.agent_uids},
                       {"router_uids", c.kernel_guard.router_uids},
                       {"resolvers", c.kernel_guard.resolvers},
                       {"mode", c.kernel_guard.mode}};
  if (c.kernel_guard.agent_cgroup) j["kernel_guard"]["agent_cgroup"] = *c.kernel_guard.agent_cgroup;
  j["log"] = {{"format", c.log.format}, {"level", c.log.level}};
  j["worker_threads"] = c.worker_threads;
  return j;
}

}  // namespace sallyport::config

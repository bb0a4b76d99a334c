#pragma once
// Typed configuration model (shared/DESIGN.md "Config shape"; config/schema.json is the
// reference). Immutable once loaded: SIGHUP builds a new Config and swaps it atomically.
// Secrets are held as references ({"env": NAME} / {"file": PATH}) and resolved on use, so a
// Config can be printed (masked) or logged without leaking them.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sallyport::config {

// {"env": NAME} or {"file": PATH}. resolve() reads it (file: first line, trailing newline
// trimmed; the file is opened once and fstat'ed on the same fd, at most 64 KiB).
struct SecretRef {
  enum class Kind : std::uint8_t { env, file };
  Kind kind = Kind::env;
  std::string name;  // env var name or file path
  std::string describe() const;  // "env:NAME" / "file:/path" — never the value
};

// A plain value that may come from the environment ({"env": NAME}, e.g. the Downward API).
struct ValueRef {
  std::string literal;
  std::optional<std::string> env;
};

struct Identity {
  ValueRef sandbox{"default", {}}, tenant{"default", {}}, namespace_{"default", {}}, pod{"local", {}};
};

struct Listeners {
  std::string proxy = "127.0.0.1:3128";
  std::string gateway = "127.0.0.1:8080";
  std::string admin = "127.0.0.1:8787";
};

struct Admin {
  std::optional<SecretRef> token;
  bool metrics_require_token = false;      // /metrics open to scrapers by default
  bool allow_non_loopback_plaintext = false;  // admin on a non-loopback bind needs this (no TLS yet)
};

struct Feed {
  std::string name;
  std::string url, file, builtin;  // exactly one is set
  std::string format = "auto";     // auto | domains | hosts | abp | wildcard
};

struct EgressLimits {
  std::uint32_t max_header_bytes = 16384;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds dns_timeout{3000};
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds tunnel_lifetime{3600000};
  std::uint32_t max_connections = 4096;
  std::uint32_t max_connections_per_client = 256;
};

struct Egress {
  std::vector<std::uint16_t> connect_ports{443};
  std::vector<std::uint16_t> http_ports{80};
  std::vector<std::uint16_t> tls_ports{443};  // CONNECT ports whose ClientHello SNI is checked
  bool require_sni = true;
  std::vector<std::string> allow, deny, allow_cidrs, deny_cidrs;
  std::string bare_ip = "deny";  // deny | allow_cidrs
  std::vector<std::string> high_risk_tlds{"tk", "ml", "ga", "cf", "gq"};
  std::vector<Feed> feeds{Feed{"urlhaus", "", "", "default", "auto"}};
  std::chrono::seconds refresh{6 * 3600};
  EgressLimits limits;
  std::string mode = "enforce";  // enforce | report
  std::vector<std::string> resolvers;  // "ip" or "ip:port"; empty = system resolver
  std::optional<SecretRef> proxy_token;
};

struct Provider {
  std::string name;
  std::string kind;  // openai | azure_openai | anthropic
  std::string base_url;
  std::optional<SecretRef> api_key;
  std::optional<std::string> ca_file;
  std::vector<std::string> models;  // globs; empty = every model
  std::optional<std::string> api_version;
};

// An upstream MCP server exposed by the gateway at /mcp/<name> (Streamable HTTP transport).
// Credentials stay in sallyport: `auth` becomes "Authorization: Bearer <secret>", `headers`
// are extra request headers whose values are secrets; the agent's Authorization is dropped.
struct McpServer {
  std::string name;  // [A-Za-z0-9_.-]{1,64}: the path segment
  std::string url;   // https://host[:port]/path (http:// only for loopback hosts)
  std::vector<std::pair<std::string, SecretRef>> headers;  // header name -> secret value
  std::optional<SecretRef> auth;                           // bearer token
  std::optional<std::string> ca_file;
  std::chrono::milliseconds timeout{60000};  // wait for the answer header and between bytes
};

struct Gateway {
  std::uint64_t max_request_bytes = 4 * 1024 * 1024;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds first_byte_timeout{120000};
  std::chrono::milliseconds idle_timeout{60000};
};

struct Budgets {
  std::uint64_t per_request_tokens = 32768;
  std::uint64_t daily_tokens = 2000000;
  std::string over_max_tokens = "reject";  // reject | clamp
};

struct RateLimits {
  std::uint32_t rpm = 600;
  std::uint64_t tpm = 1000000;
  std::uint32_t max_concurrent = 16;
  std::uint32_t queue = 64;
};

struct PromptShield {
  std::string mode = "enforce";  // off | observe | enforce
  std::vector<std::string> patterns;  // extra RE2 patterns on top of the default set
};

struct Safety {
  std::string floor = "medium";  // safe | low | medium | high
  PromptShield prompt_shield;
};

// Where a pending approval is announced (POST, JSON; see governance/approval_webhook.hpp).
struct ApprovalWebhook {
  std::string url;                      // http:// or https://
  std::optional<SecretRef> token;       // sent as "Authorization: Bearer <token>"
  std::optional<std::string> ca_file;   // https: trust anchors (default: system store)
  std::chrono::milliseconds timeout{5000};  // per attempt: connect + send + status line
  std::uint32_t retries = 3;            // after the first attempt, with doubling backoff
};

struct Approvals {
  std::chrono::seconds timeout{120};  // pending -> denied "approval:timeout"
  std::uint32_t max_pending = 256;
  std::optional<ApprovalWebhook> webhook;
};

struct Policy {
  std::optional<std::string> file;  // tool policy file; none = built-in default (allow, logged)
  Approvals approvals;              // require_approval calls (only with a policy file)
};

struct TrustTier {
  std::string name;
  std::uint32_t min = 0;
};

struct Trust {
  std::uint32_t initial = 600;
  std::uint32_t threshold = 500;
  std::vector<TrustTier> tiers{{"quarantined", 0}, {"restricted", 200}, {"standard", 400},
                               {"trusted", 600}, {"privileged", 800}};
  std::vector<std::pair<std::string, std::uint32_t>> penalties{
      {"egress_blocked", 10}, {"imds_attempt", 200}, {"tool_denied", 25},
      {"jailbreak", 100},     {"budget_exhausted", 20}, {"kernel_deny", 150}};
  std::uint32_t recovery_per_clean_request = 1;
  std::uint32_t recovery_max_per_hour = 30;
};

struct AuditSink {
  std::string name;
  std::string kind;  // syslog | http
  std::string address;                // syslog: host:port
  std::string transport = "tcp";      // syslog: tcp | tls
  std::optional<std::string> ca_file;
  std::string url;                    // http
  std::optional<SecretRef> token;     // http
  std::uint32_t batch = 100;          // http
};

struct Audit {
  std::string dir;  // empty = <state_dir>/audit
  std::string fsync = "group";  // record | group
  std::chrono::milliseconds group_interval{5};
  std::uint32_t checkpoint_every = 1000;
  std::chrono::seconds checkpoint_interval{60};
  std::uint64_t rotate_bytes = 64ull * 1024 * 1024;
  std::chrono::seconds rotate_interval{24 * 3600};
  std::string on_failure = "fail_closed";  // fail_closed | fail_open
  std::vector<AuditSink> sinks;
};

struct StateBackend {
  std::string kind = "local";  // local | redis
  std::string url;
  std::optional<std::string> ca_file;
  std::string on_unavailable = "fail_closed";
  // redis only (governance/state_backend.hpp, router/redis_client.hpp):
  std::optional<std::string> username;             // AUTH user (ACL); else from the URL
  std::optional<SecretRef> password;               // AUTH password; never inline
  std::optional<std::string> server_name;          // TLS name to verify; default: URL host
  std::chrono::milliseconds timeout{50};           // deadline of every Redis call
  std::chrono::milliseconds connect_timeout{1000}; // connect + TLS + AUTH
  std::uint32_t pool_size = 2;                     // connections
  std::string key_prefix = "sallyport";            // keys: {prefix}:{tenant}:...
  // state_backend.tenant: limits shared by every sandbox of identity.tenant (0 = off).
  std::uint64_t tenant_daily_tokens = 0;
  std::int64_t tenant_rpm = 0;
  std::uint64_t tenant_tpm = 0;
};

struct KernelGuard {
  bool enabled = false;  // the router reads deny events when the pins exist
  std::string pin_dir = "/sys/fs/bpf/sallyport";
  std::string name = "default";
  std::vector<std::uint32_t> agent_uids{1000};
  std::vector<std::uint32_t> router_uids{1001};
  std::vector<std::string> resolvers;
  std::string mode = "enforce";  // off | observe | enforce
  // cgroup v2 directory of the agent; its id gets the guard's quarantine flag when trust drops to
  // the quarantine tier (cleared when an operator resets trust). None = user-space quarantine only.
  std::optional<std::string> agent_cgroup;
};

struct Log {
  std::string format = "json";  // json | text
  std::string level = "info";   // debug | info | warn | error
};

struct Config {
  Identity identity;
  Listeners listeners;
  Admin admin;
  std::string state_dir = "/var/lib/sallyport";
  Egress egress;
  std::vector<Provider> providers;
  std::vector<McpServer> mcp_servers;
  Gateway gateway;
  Budgets budgets;
  RateLimits rate_limits;
  Safety safety;
  Policy policy;
  Trust trust;
  Audit audit;
  StateBackend state_backend;
  KernelGuard kernel_guard;
  Log log;
  unsigned worker_threads = 0;  // 0 = one per core
};

}  // namespace sallyport::config

#include "router/config_mapping.hpp"

#include <algorithm>
#include <thread>

#include "config/loader.hpp"

namespace sallyport::router {
namespace {

blocklist::FeedFormat feed_format(const std::string& name) {
  if (name == "domains") return blocklist::FeedFormat::domains;
  if (name == "hosts") return blocklist::FeedFormat::hosts;
  if (name == "abp") return blocklist::FeedFormat::abp;
  if (name == "wildcard") return blocklist::FeedFormat::wildcard;
  return blocklist::FeedFormat::auto_detect;
}

}  // namespace

blocklist::EgressPolicyOptions egress_policy_options(const config::Config& cfg) {
  const auto& e = cfg.egress;
  blocklist::EgressPolicyOptions o;
  o.allow = e.allow;
  o.deny = e.deny;
  o.allow_cidrs = e.allow_cidrs;
  o.deny_cidrs = e.deny_cidrs;
  o.bare_ip_allowed_in_allow_cidrs = e.bare_ip == "allow_cidrs";
  o.high_risk_tlds = e.high_risk_tlds;
  for (const auto& f : e.feeds) {
    o.feeds.push_back(blocklist::FeedSource{f.name, f.url, f.file, f.builtin, feed_format(f.format)});
  }
  o.refresh = e.refresh;
  o.cache_dir = cfg.state_dir + "/feeds";
  return o;
}

unsigned worker_thread_count(const config::Config& cfg) {
  return cfg.worker_threads ? cfg.worker_threads : std::max(1u, std::thread::hardware_concurrency());
}

ProxyOptionsResult proxy_options(const config::Config& cfg) {
  const auto& e = cfg.egress;
  ProxyOptions o;
  o.listen = cfg.listeners.proxy;
  o.connect_ports = e.connect_ports;
  o.http_ports = e.http_ports;
  o.tls_ports = e.tls_ports;
  o.require_sni = e.require_sni;
  o.report_only = e.mode == "report";
  o.resolvers = e.resolvers;
  o.limits.max_header_bytes = e.limits.max_header_bytes;
  o.limits.connect_timeout = e.limits.connect_timeout;
  o.limits.dns_timeout = e.limits.dns_timeout;
  o.limits.idle_timeout = e.limits.idle_timeout;
  o.limits.tunnel_lifetime = e.limits.tunnel_lifetime;
  o.limits.header_timeout = e.limits.header_timeout;
  o.limits.max_connections = e.limits.max_connections;
  o.limits.max_connections_per_client = e.limits.max_connections_per_client;
  // The proxy gets its own event loop per worker thread (see ProxyOptions::event_loops).
  o.event_loops = worker_thread_count(cfg);
  ProxyOptionsResult result;
  if (e.proxy_token) {
    auto token = config::resolve_secret(*e.proxy_token);
    if (!token.value) {
      result.error = "egress.proxy_token (" + e.proxy_token->describe() + "): " + token.error;
      return result;
    }
    o.proxy_token = std::move(token.value);
  }
  result.options = std::move(o);
  return result;
}

}  // namespace sallyport::router

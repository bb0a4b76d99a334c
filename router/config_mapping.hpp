#pragma once
// Maps the typed config onto each component's own options struct, so components never depend
// on the config model and the mapping lives in one place.
#include "blocklist/egress_policy.hpp"
#include "config/config.hpp"
#include "router/forward_proxy.hpp"

namespace sallyport::router {

blocklist::EgressPolicyOptions egress_policy_options(const config::Config& cfg);

// Proxy options; the Proxy-Authorization token (egress.proxy_token) is resolved here, so a
// missing token file is reported by the caller as a start-up error.
struct ProxyOptionsResult {
  std::optional<ProxyOptions> options;
  std::string error;
};
ProxyOptionsResult proxy_options(const config::Config& cfg);

// worker_threads, with 0 meaning one per core: the app's I/O threads and the proxy's event loops.
unsigned worker_thread_count(const config::Config& cfg);

}  // namespace sallyport::router

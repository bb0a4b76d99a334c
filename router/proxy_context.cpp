#include "router/proxy_context.hpp"

#include "common/log.hpp"
#include "router/dns_client.hpp"

#include <boost/asio/post.hpp>

#include <malloc.h>

#include <algorithm>
#include <stdexcept>

namespace sallyport::router {

namespace {

// Bursts smaller than this leave too little in the arenas to be worth a trim.
constexpr std::size_t kTrimAfterPeak = 512;

std::vector<boost::asio::ip::udp::endpoint> parse_resolvers(const std::vector<std::string>& list) {
  std::vector<boost::asio::ip::udp::endpoint> out;
  for (const auto& text : list) {
    auto endpoint = dns::parse_resolver(text);
    if (!endpoint)  // start-up configuration error: fail loudly, naming the bad entry
      throw std::invalid_argument("egress.resolvers: \"" + text +
                                  "\" is not ip[:port] or [ipv6][:port]");
    out.push_back(*endpoint);
  }
  return out;
}

}  // namespace

void ConnectionControl::close_now() {
  closed_ = true;
  for (auto* socket : sockets_) {
    boost::system::error_code ignored;
    socket->cancel(ignored);
    socket->close(ignored);
  }
}

ProxyContext::ProxyContext(ProxyOptions options_in, PolicySource policy_in,
                           prometheus::Registry& registry,
                           std::function<void(const EgressEvent&)> on_event_in)
    : options(std::move(options_in)),
      policy(std::move(policy_in)),
      metrics(registry),
      on_event(std::move(on_event_in)),
      resolvers(parse_resolvers(options.resolvers)) {}

void ProxyContext::emit(const EgressEvent& event) const {
  const char* decision = !event.allowed ? "deny" : event.report_only_would_deny ? "would_deny" : "allow";
  metrics.decision(decision, event.reason);
  // The canonical line: one per request. Headers (and so Proxy-Authorization) are never logged.
  // Denials (and report-mode would-denies) are logged at info; plain allows at debug, because
  // every decision is already recorded by on_event (the audit log) and counted in
  // decisions_total, and formatting + redacting this line was a measurable part of the
  // per-tunnel CPU cost (bench/proxy_bench.sh).
  const auto level = event.allowed && !event.report_only_would_deny ? log::Level::debug : log::Level::info;
  if (log::enabled(level))
    log::write(level, "proxy", "egress",
               {{"client", event.client}, {"method", event.method}, {"host", event.host},
                {"port", event.port}, {"decision", decision}, {"reason", event.reason},
                {"rule", event.rule}, {"detail", event.detail}, {"status", event.status},
                {"bytes_up", event.bytes_up}, {"bytes_down", event.bytes_down},
                {"duration_us", static_cast<std::int64_t>(event.duration.count())}});
  if (on_event) on_event(event);
}

std::optional<std::string> ProxyContext::admit(const std::string& client_address,
                                               const std::shared_ptr<ConnectionControl>& control,
                                               std::uint64_t& id) {
  std::lock_guard lock(mutex_);
  if (connections_.size() >= options.limits.max_connections) return "limit:connections";
  auto& count = per_client_[client_address];
  if (count >= options.limits.max_connections_per_client) {
    if (count == 0) per_client_.erase(client_address);
    return "limit:per-client";
  }
  ++count;
  id = next_id_++;
  connections_.emplace(id, control);
  peak_since_trim_ = std::max(peak_since_trim_, connections_.size());
  active_.store(connections_.size());
  metrics.active.Set(static_cast<double>(connections_.size()));
  return std::nullopt;
}

void ProxyContext::release(const std::string& client_address, std::uint64_t id) {
  bool trim = false;
  {
    std::lock_guard lock(mutex_);
    if (auto it = per_client_.find(client_address); it != per_client_.end() && --it->second == 0)
      per_client_.erase(it);
    connections_.erase(id);
    active_.store(connections_.size());
    metrics.active.Set(static_cast<double>(connections_.size()));
    if (connections_.empty() && peak_since_trim_ >= kTrimAfterPeak) {
      peak_since_trim_ = 0;
      trim = true;
    }
  }
  // After a burst of tunnels (each holds two splice buffers) glibc keeps the freed memory in its
  // arenas, so RSS would stay at the burst's peak (240 MB after 10,000 tunnels). When the proxy
  // is idle again, hand it back; the cost (a few ms) is paid once per burst, by a connection that
  // has just ended.
  if (trim) malloc_trim(0);
}

void ProxyContext::close_all() {
  std::vector<std::shared_ptr<ConnectionControl>> open;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, weak] : connections_)
      if (auto control = weak.lock()) open.push_back(std::move(control));
  }
  for (auto& control : open)
    boost::asio::post(control->strand(), [control] { control->close_now(); });
}

bool port_listed(const std::vector<std::uint16_t>& ports, std::uint16_t port) {
  return std::find(ports.begin(), ports.end(), port) != ports.end();
}

}  // namespace sallyport::router

#include "router/proxy_metrics.hpp"

#include <array>
#include <string>

namespace sallyport::router {
namespace {

prometheus::Family<prometheus::Counter>& counter(prometheus::Registry& r, const char* name,
                                                 const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}

prometheus::Family<prometheus::Counter>& bytes_family(prometheus::Registry& r) {
  return counter(r, "sallyport_egress_bytes_total",
                 "Bytes relayed by the forward proxy (up = agent to upstream)");
}

// Method labels are a closed set so an agent cannot create unbounded series.
constexpr std::array<std::string_view, 9> method_labels{"CONNECT", "GET",     "HEAD",  "POST", "PUT",
                                                        "DELETE",  "OPTIONS", "PATCH", "other"};

std::size_t method_index(std::string_view method) {
  for (std::size_t i = 0; i + 1 < method_labels.size(); ++i)
    if (method == method_labels[i]) return i;
  return method_labels.size() - 1;  // "other"
}

}  // namespace

prometheus::Counter& ProxyMetrics::CounterCache::get(prometheus::Family<prometheus::Counter>& family,
                                                     std::string_view key, LabelViews labels) {
  std::lock_guard lock(mutex_);
  // Heterogeneous lookup needs C++20 transparent hashing; a short key copy is cheap enough.
  auto [it, inserted] = counters_.try_emplace(std::string(key), nullptr);
  if (inserted) {
    prometheus::Labels built;
    for (const auto& [name, value] : labels) built.emplace(std::string(name), std::string(value));
    it->second = &family.Add(built);
  }
  return *it->second;
}

ProxyMetrics::ProxyMetrics(prometheus::Registry& registry)
    : bytes_up(bytes_family(registry).Add({{"direction", "up"}})),
      bytes_down(bytes_family(registry).Add({{"direction", "down"}})),
      active(prometheus::BuildGauge()
                 .Name("sallyport_egress_connections_active")
                 .Help("Client connections currently open on the forward proxy")
                 .Register(registry)
                 .Add({})),
      connect_seconds(prometheus::BuildHistogram()
                          .Name("sallyport_egress_upstream_connect_seconds")
                          .Help("Time to establish the upstream TCP connection")
                          .Register(registry)
                          .Add({}, prometheus::Histogram::BucketBoundaries{
                                       0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                       0.25, 0.5, 1, 2.5, 5})),
      requests_(counter(registry, "sallyport_egress_requests_total",
                        "Requests received by the forward proxy, by method")),
      decisions_(counter(registry, "sallyport_egress_decisions_total",
                         "Egress decisions (allow, deny, would_deny in report mode) by reason")),
      errors_(counter(registry, "sallyport_egress_errors_total",
                      "Forward proxy errors by kind (timeouts, refusals, limits, bad requests)")) {
  for (std::size_t i = 0; i < method_labels.size(); ++i)
    request_counters_[i] = &requests_.Add({{"method", std::string(method_labels[i])}});
}

void ProxyMetrics::request(std::string_view method) const {
  request_counters_[method_index(method)]->Increment();
}

void ProxyMetrics::decision(std::string_view decision, std::string_view reason) const {
  std::string key;
  key.reserve(decision.size() + 1 + reason.size());
  key.append(decision).push_back('\n');  // neither part can hold a newline
  key.append(reason);
  decision_counters_
      .get(decisions_, key, {{"decision", decision}, {"reason", reason}})
      .Increment();
}

void ProxyMetrics::error(std::string_view kind) const {
  error_counters_.get(errors_, kind, {{"kind", kind}}).Increment();
}

}  // namespace sallyport::router

#include "router/proxy_metrics.hpp"

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
std::string method_label(std::string_view method) {
  for (std::string_view known : {"CONNECT", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS",
                                 "PATCH"})
    if (method == known) return std::string(known);
  return "other";
}

}  // namespace

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
                      "Forward proxy errors by kind (timeouts, refusals, limits, bad requests)")) {}

void ProxyMetrics::request(std::string_view method) const {
  requests_.Add({{"method", method_label(method)}}).Increment();
}

void ProxyMetrics::decision(std::string_view decision, std::string_view reason) const {
  decisions_.Add({{"decision", std::string(decision)}, {"reason", std::string(reason)}}).Increment();
}

void ProxyMetrics::error(std::string_view kind) const {
  errors_.Add({{"kind", std::string(kind)}}).Increment();
}

}  // namespace sallyport::router

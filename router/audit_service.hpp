#pragma once
// Owns the sandbox identity, the audit chain and the SIEM sinks for the running process, and
// exports their figures as metrics. Every component reports decisions through record().
#include "config/config.hpp"
#include "governance/audit_chain.hpp"
#include "governance/identity.hpp"
#include "governance/siem_sink.hpp"
#include "router/metrics.hpp"

#include <memory>
#include <vector>

namespace sallyport::router {

class AuditService {
 public:
  // Loads or creates the identity key in state_dir and opens the chain. Throws
  // std::runtime_error with a clear message when the audit log cannot be started.
  AuditService(const config::Config& cfg, Metrics& metrics);
  ~AuditService();

  // Appends one record; false when the log did not take it (unhealthy or full): callers on
  // the request path then fail closed when audit.on_failure is "fail_closed".
  bool record(audit::AuditEvent event);
  bool healthy() const { return chain_->healthy(); }
  bool fail_closed() const { return fail_closed_; }

  const identity::Identity& identity() const { return *identity_; }
  const audit::AuditChain& chain() const { return *chain_; }
  std::vector<std::pair<std::string, std::uint64_t>> sink_lags() const;

  // Stops the sinks, writes the final signed checkpoint and flushes.
  void close();

 private:
  std::shared_ptr<const identity::Identity> identity_;
  std::unique_ptr<audit::AuditChain> chain_;
  std::vector<std::unique_ptr<siem::SiemSink>> sinks_;
  std::shared_ptr<prometheus::Collectable> collector_;
  bool fail_closed_ = true;
  bool closed_ = false;
};

// The audit directory the config names (audit.dir, default <state_dir>/audit).
std::string audit_dir(const config::Config& cfg);

}  // namespace sallyport::router

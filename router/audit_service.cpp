#include "router/audit_service.hpp"

#include "common/log.hpp"
#include "config/loader.hpp"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <sys/stat.h>

#include <stdexcept>

namespace sallyport::router {
namespace {

class AuditCollector : public prometheus::Collectable {
 public:
  explicit AuditCollector(const AuditService& service) : service_(service) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    using prometheus::MetricType;
    const auto c = service_.chain().counters();
    std::vector<prometheus::MetricFamily> out{
        single_sample_family("sallyport_audit_records_total", "Audit records committed (checkpoints excluded).",
                  MetricType::Counter, static_cast<double>(c.records_appended)),
        single_sample_family("sallyport_audit_checkpoints_total", "Signed audit checkpoints written.",
                  MetricType::Counter, static_cast<double>(c.checkpoints)),
        single_sample_family("sallyport_audit_bytes_total", "Bytes written to the audit log.",
                  MetricType::Counter, static_cast<double>(c.bytes_written)),
        single_sample_family("sallyport_audit_fsyncs_total", "fdatasync calls of the audit writer.",
                  MetricType::Counter, static_cast<double>(c.fsyncs)),
        single_sample_family("sallyport_audit_dropped_total", "Audit records the log could not take.",
                  MetricType::Counter, static_cast<double>(c.dropped)),
        single_sample_family("sallyport_audit_errors_total", "Failed audit writes, fsyncs or opens.",
                  MetricType::Counter, static_cast<double>(c.errors)),
        single_sample_family("sallyport_audit_queue_depth", "Audit records waiting for the writer.",
                  MetricType::Gauge, static_cast<double>(c.queue_depth)),
        single_sample_family("sallyport_audit_healthy", "1 when the audit log accepts records, else 0.",
                  MetricType::Gauge, service_.healthy() ? 1 : 0),
    };
    auto lag = metric_family("sallyport_siem_lag_records",
                             "Committed audit records not yet delivered to each SIEM sink.",
                             MetricType::Gauge);
    for (const auto& [name, value] : service_.sink_lags()) {
      add_sample(lag, static_cast<double>(value), {{"sink", name}});
    }
    out.push_back(std::move(lag));
    return out;
  }

 private:
  const AuditService& service_;
};

std::optional<siem::SinkOptions> sink_options(const config::AuditSink& s) {
  if (s.kind == "syslog") {
    siem::SyslogSinkOptions o;
    o.name = s.name;
    o.address = s.address;
    o.transport = s.transport == "tls" ? siem::SyslogSinkOptions::Transport::tls
                                       : siem::SyslogSinkOptions::Transport::tcp;
    o.ca_file = s.ca_file;
    return o;
  }
  siem::HttpSinkOptions o;
  o.name = s.name;
  o.url = s.url;
  o.batch = s.batch;
  o.ca_file = s.ca_file;
  if (s.token) {
    auto token = config::resolve_secret(*s.token);
    if (!token.value) {
      log::error("siem", "sink token unavailable; sink not started",
                 {{"sink", s.name}, {"token", s.token->describe()}, {"error", token.error}});
      return std::nullopt;
    }
    // Splunk HEC style unless the value already carries its scheme ("Bearer …").
    o.authorization = token.value->find(' ') == std::string::npos ? "Splunk " + *token.value : *token.value;
  }
  return o;
}

}  // namespace

std::string audit_dir(const config::Config& cfg) {
  return cfg.audit.dir.empty() ? cfg.state_dir + "/audit" : cfg.audit.dir;
}

AuditService::AuditService(const config::Config& cfg, Metrics& metrics)
    : fail_closed_(cfg.audit.on_failure == "fail_closed") {
  identity_ = std::make_shared<const identity::Identity>(identity::Identity::load_or_create(cfg.state_dir));
  audit::AuditOptions options;
  options.dir = audit_dir(cfg);
  ::mkdir(options.dir.c_str(), 0700);
  options.fsync = cfg.audit.fsync == "record" ? audit::FsyncMode::record : audit::FsyncMode::group;
  options.group_interval = cfg.audit.group_interval;
  options.checkpoint_every = cfg.audit.checkpoint_every;
  options.checkpoint_interval = cfg.audit.checkpoint_interval;
  options.rotate_bytes = cfg.audit.rotate_bytes;
  options.rotate_interval = cfg.audit.rotate_interval;
  const audit::Attribution attribution{config::resolve_value(cfg.identity.sandbox),
                                       config::resolve_value(cfg.identity.tenant),
                                       config::resolve_value(cfg.identity.namespace_),
                                       config::resolve_value(cfg.identity.pod)};
  chain_ = audit::AuditChain::open(options, attribution, identity_);
  for (const auto& s : cfg.audit.sinks) {
    auto o = sink_options(s);
    if (!o) continue;
    siem::SinkRuntime runtime;
    runtime.audit_dir = options.dir;
    runtime.cursor_file = cfg.state_dir + "/siem-" + s.name + ".cursor";
    runtime.committed_seq = [chain = chain_.get()] { return chain->committed_seq(); };
    std::string error;
    auto sink = siem::SiemSink::create(*o, std::move(runtime), error);
    if (!sink) throw std::runtime_error("audit sink \"" + s.name + "\": " + error);
    sink->start();
    sinks_.push_back(std::move(sink));
  }
  collector_ = std::make_shared<AuditCollector>(*this);
  metrics.add_collectable(collector_);
  log::info("audit", "audit log open",
            {{"dir", options.dir.string()}, {"key_id", identity_->key_id()},
             {"sinks", static_cast<long>(sinks_.size())}});
}

AuditService::~AuditService() { close(); }

bool AuditService::record(audit::AuditEvent event) { return chain_->append(std::move(event)); }

std::vector<std::pair<std::string, std::uint64_t>> AuditService::sink_lags() const {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (const auto& s : sinks_) out.emplace_back(s->name(), s->lag_records());
  return out;
}

void AuditService::close() {
  if (closed_) return;
  closed_ = true;
  chain_->close();
  // Sinks stop after the final checkpoint is committed so they can still ship it.
  for (auto& s : sinks_) s->stop();
}

}  // namespace sallyport::router

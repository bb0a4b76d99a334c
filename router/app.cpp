#include "router/app.hpp"

#include "common/log.hpp"
#include "common/redact.hpp"
#include "config/loader.hpp"
#include "router/admin_api.hpp"
#include "router/approval_notifier.hpp"
#include "router/attest_route.hpp"
#include "router/audit_service.hpp"
#include "router/blocklist_service.hpp"
#include "router/config_mapping.hpp"
#include "router/forward_proxy.hpp"
#include "router/gateway.hpp"
#include "router/gateway_deps.hpp"
#include "router/trust_actions.hpp"
#include "router/kernel_events.hpp"
#include "router/http_server.hpp"
#include "router/metrics.hpp"
#include "router/readiness.hpp"
#include "router/state_backend_service.hpp"
#include "router/version.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

namespace sallyport::router {
namespace {

namespace asio = boost::asio;
using ConfigPtr = std::shared_ptr<const config::Config>;

void apply_logging(const config::Config& cfg) {
  log::configure(log::parse_format(cfg.log.format).value_or(log::Format::json),
                 log::parse_level(cfg.log.level).value_or(log::Level::info));
}

bool is_loopback_listener(const std::string& address) {
  return address.starts_with("127.") || address.starts_with("[::1]:") ||
         address.starts_with("localhost:");
}

// Creates the state dir 0700 when missing and checks we can write there: a read-only or
// foreign state dir is a start-up error, not a surprise at the first budget write.
bool prepare_state_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    log::error("app", "cannot create state_dir",
               {{"state_dir", dir}, {"error", std::strerror(errno)},
                {"hint", "set \"state_dir\" in the config to a directory this user can write"}});
    return false;
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    log::error("app", "state_dir is not writable",
               {{"state_dir", dir}, {"error", std::strerror(errno)}});
    return false;
  }
  return true;
}

std::optional<std::string> load_admin_token(const config::Config& cfg) {
  if (!cfg.admin.token) {
    log::warn("admin", "no admin token configured; /admin/ endpoints answer 401");
    return std::nullopt;
  }
  auto secret = config::resolve_secret(*cfg.admin.token);
  if (!secret.value) {
    log::warn("admin", "admin token unavailable; /admin/ endpoints answer 401",
              {{"token", cfg.admin.token->describe()}, {"error", secret.error}});
    return std::nullopt;
  }
  return secret.value;
}

class App {
 public:
  App(RunOptions options, config::Config cfg)
      : options_(std::move(options)),
        config_(std::make_shared<const config::Config>(std::move(cfg))),
        reloads_(prometheus::BuildCounter()
                     .Name("sallyport_config_reloads_total")
                     .Help("Configuration reloads (SIGHUP) by result.")
                     .Register(metrics_.registry())),
        admin_api_(metrics_, readiness_, [this] { return config::to_masked_json(*config_.load()).dump(); }),
        admin_server_(ioc_, "admin",
                      [this](const HttpRequest& req, const asio::ip::tcp::endpoint& peer) {
                        return admin_api_.handle(req, peer);
                      }),
        signals_(ioc_, SIGTERM, SIGINT, SIGHUP),
        blocklist_(*config_.load(), metrics_) {}

  int run() {
    const auto cfg = config_.load();
    if (!is_loopback_listener(cfg->listeners.admin) && !cfg->admin.allow_non_loopback_plaintext) {
      log::error("app", "refusing a non-loopback admin listener without TLS",
                 {{"listen", cfg->listeners.admin},
                  {"hint", "set admin.allow_non_loopback_plaintext to true to accept the risk"}});
      return 1;
    }
    if (!prepare_state_dir(cfg->state_dir)) return 1;
    try {
      audit_ = std::make_unique<AuditService>(*cfg, metrics_);
    } catch (const std::exception& e) {
      log::error("audit", "cannot start the audit log", {{"error", e.what()}});
      return 1;
    }
    readiness_.add("audit", [this] { return audit_->healthy(); });
    add_identity_route();
    admin_api_.add_route(
        boost::beast::http::verb::get, "/admin/attest",
        make_attest_route({[this] { return config_.load(); }, [this] { return blocklist_.store(); },
                           [this]() -> const identity::Identity& { return audit_->identity(); },
                           audit_->chain().dir(), &attested_policy_}));
    admin_api_.set_token(load_admin_token(*cfg));
    admin_api_.set_metrics_require_token(cfg->admin.metrics_require_token);
    readiness_.add("config", [] { return true; });
    readiness_.add("blocklist", [this] { return blocklist_.ready(); });
    try {
      blocklist_.start();
    } catch (const std::exception& e) {
      log::error("blocklist", "cannot start the egress policy", {{"error", e.what()}});
      return 1;
    }
    if (!start_gateway(*cfg)) return 1;
    if (!start_proxy(*cfg)) return 1;
    kernel_events_.start(*cfg);
    if (const auto ec = admin_server_.listen(cfg->listeners.admin)) {
      log::error("app", "cannot listen on admin address",
                 {{"listen", cfg->listeners.admin}, {"error", ec.message()}});
      return 1;
    }
    wait_for_signal();
    const unsigned threads = worker_thread_count(*cfg);
    log::info("app", "sallyport started",
              {{"version", std::string(kVersion)},
               {"admin", cfg->listeners.admin},
               {"proxy", cfg->listeners.proxy},
               {"gateway", cfg->listeners.gateway},
               {"threads", threads},
               {"config", options_.config_path.empty() ? "<embedded default>" : options_.config_path}});
    std::vector<std::thread> workers;
    for (unsigned i = 1; i < threads; ++i) workers.emplace_back([this] { ioc_.run(); });
    ioc_.run();
    for (auto& t : workers) t.join();
    blocklist_.stop();
    kernel_events_.stop();
    proxy_.reset();
    gateway_.reset();
    if (state_backend_) state_backend_->stop();  // no fleet trust change after the audit closes
    if (governance_ && governance_->trust) {
      if (auto err = governance_->trust->flush()) log::error("trust", "cannot save trust state", {{"error", *err}});
    }
    audit_->close();
    log::info("app", "sallyport stopped", {{"exit_code", exit_code_.load()}});
    return exit_code_.load();
  }

 private:
  bool start_proxy(const config::Config& cfg) {
    auto options = proxy_options(cfg);
    if (!options.options) {
      log::error("proxy", "cannot start the forward proxy", {{"error", options.error}});
      return false;
    }
    try {
      proxy_ = std::make_unique<ForwardProxy>(
          ioc_, std::move(*options.options), [this] { return egress_policy(); },
          metrics_.registry(), [this](const EgressEvent& e) { on_egress_event(e); });
    } catch (const std::exception& e) {
      log::error("proxy", "invalid forward proxy settings", {{"error", e.what()}});
      return false;
    }
    if (const auto ec = proxy_->start()) {
      log::error("proxy", "cannot listen on proxy address",
                 {{"listen", cfg.listeners.proxy}, {"error", ec.message()}});
      return false;
    }
    readiness_.add("proxy", [] { return true; });
    return true;
  }

  // Builds the governance objects and the inference gateway; its admin routes join the API.
  bool start_gateway(const config::Config& cfg) {
    auto built = build_gateway_governance(cfg);
    if (!built.governance) {
      for (const auto& e : built.errors) log::error("gateway", "invalid governance settings", {{"error", e}});
      return false;
    }
    governance_ = std::move(built.governance);
    if (auto error = start_approval_webhook(cfg, *governance_, metrics_.registry())) {
      log::error("approval", "invalid approval webhook settings", {{"error", *error}});
      return false;
    }
    attested_policy_.loaded(governance_->tool_policy_file);
    if (governance_->trust) {
      trust_actions_ = std::make_shared<TrustActions>(*governance_->trust, governance_->agent, cfg, metrics_);
      governance_->trust->set_tier_callback([this](const governance::TrustChange& change) {
        trust_actions_->on_tier_change(change);
        audit::AuditEvent record;
        record.kind = "trust";
        record.decision = change.tier_after < change.tier_before ? "deny" : "allow";
        record.reason = "trust:tier-" + change.tier_name_after;
        record.detail = {{"agent", change.agent}, {"before", change.before}, {"after", change.after},
                         {"tier_before", change.tier_name_before}, {"cause", change.cause},
                         {"detail", change.detail}};
        audit_->record(std::move(record));
      });
    }
    if (!start_state_backend(cfg)) return false;
    try {
      gateway_ = std::make_unique<InferenceGateway>(
          ioc_, cfg, [this] { return egress_policy(); }, gateway_deps(), metrics_.registry(),
          [this](const GatewayEvent& e) { on_gateway_event(e); });
    } catch (const std::exception& e) {
      log::error("gateway", "invalid gateway settings", {{"error", e.what()}});
      return false;
    }
    if (const auto ec = gateway_->start()) {
      log::error("gateway", "cannot listen on gateway address",
                 {{"listen", cfg.listeners.gateway}, {"error", ec.message()}});
      return false;
    }
    gateway_->register_admin_routes([this](boost::beast::http::verb verb, std::string path,
                                           std::function<HttpResponse(const HttpRequest&)> route) {
      admin_api_.add_route(verb, std::move(path), std::move(route));
    });
    readiness_.add("gateway", [] { return true; });
    return true;
  }

  // state_backend: local (default) or redis, shared by the fleet (router/state_backend_service.hpp).
  bool start_state_backend(const config::Config& cfg) {
    auto built = StateBackendService::build(ioc_, cfg, metrics_.registry());
    if (!built.service) {
      log::error("state_backend", "invalid state backend settings", {{"error", built.error}});
      return false;
    }
    state_backend_ = std::move(built.service);
    state_backend_->attach_governance(governance_->trust.get(), governance_->agent, governance_->approvals.get());
    state_backend_->start();
    readiness_.add("state_backend", [this] { return state_backend_->ready(); });
    admin_api_.add_route(boost::beast::http::verb::get, "/admin/state_backend", [this](const HttpRequest& req) {
      return make_response(req, 200, state_backend_->admin_json().dump() + "\n", "application/json");
    });
    return true;
  }

  // The egress policy every proxy request and upstream connection is checked against; while
  // the agent is quarantined, a policy that denies everything.
  std::shared_ptr<const blocklist::EgressPolicy> egress_policy() {
    // audit.on_failure fail_closed: no policy while the audit log cannot record (the proxy then
    // refuses with 503 policy:unavailable, the gateway's upstream check fails closed).
    if (audit_ && audit_->fail_closed() && !audit_->healthy()) return nullptr;
    if (trust_actions_ && trust_actions_->quarantined()) return trust_actions_->quarantine_policy();
    return blocklist_.policy();
  }

  GatewayDeps gateway_deps() const {
    auto deps = governance_->deps();
    if (state_backend_) {
      deps.shared_state = state_backend_->shared();
      deps.fleet_approvals = state_backend_->fleet_approvals();
    }
    if (audit_->fail_closed()) deps.audit_available = [this] { return audit_->healthy(); };
    return deps;
  }

  // One canonical log line and one audit record per gateway decision.
  void on_gateway_event(const GatewayEvent& event) {
    log::info("gateway", "decision",
              {{"kind", event.kind}, {"decision", event.decision}, {"reason", event.reason},
               {"rule", event.rule}, {"provider", event.provider}, {"model", event.model},
               {"status", event.status}, {"prompt_tokens", event.prompt_tokens},
               {"completion_tokens", event.completion_tokens}, {"detail", event.detail}});
    audit::AuditEvent record;
    record.kind = event.kind;
    record.decision = event.decision;
    record.reason = event.reason.empty() ? std::string("default") : event.reason;
    // model and detail are agent-controlled text: credential shapes are masked like in the log.
    record.detail = {{"rule", event.rule},           {"provider", event.provider},
                     {"model", redact_secrets(event.model)}, {"prompt_tokens", event.prompt_tokens},
                     {"completion_tokens", event.completion_tokens}, {"status", event.status}};
    if (!event.detail.empty()) record.detail["detail"] = redact_secrets(event.detail);
    audit_->record(std::move(record));
  }

  // Every egress decision: the proxy already wrote its canonical log line; here it becomes an
  // audit record, and a denial lowers the agent's trust.
  void on_egress_event(const EgressEvent& event) {
    if (trust_actions_ && !event.allowed) trust_actions_->on_egress_denied(event.reason, event.host);
    audit::AuditEvent record;
    record.kind = "egress";
    record.decision = event.allowed ? (event.report_only_would_deny ? "would_deny" : "allow") : "deny";
    record.reason = event.reason.empty() ? std::string("default") : event.reason;
    record.detail = {{"client", event.client},     {"method", event.method},
                     {"host", redact_secrets(event.host)}, {"port", event.port},
                     {"rule", event.rule},         {"status", event.status},
                     {"bytes_up", event.bytes_up}, {"bytes_down", event.bytes_down},
                     {"duration_us", event.duration.count()}};
    if (!event.detail.empty()) record.detail["detail"] = redact_secrets(event.detail);
    audit_->record(std::move(record));
  }

  // A kernel guard deny (or observe-mode would-deny) event, already counted in
  // sallyport_kernel_denied_total by the reader.
  void on_kernel_event(const bpf::DenyEvent& event) {
    audit::AuditEvent record;
    record.kind = "kernel";
    record.decision = event.enforced ? "deny" : "would_deny";
    record.reason = "kernel:" + event.reason;
    record.detail = nlohmann::json::parse(bpf::deny_event_json(event), nullptr, false);
    audit_->record(std::move(record));
    if (trust_actions_ && event.enforced) trust_actions_->on_kernel_deny(event.reason);
  }

  void audit_config_event(std::string_view decision, std::string_view reason, std::string detail) {
    audit::AuditEvent record;
    record.kind = "config";
    record.decision = decision;
    record.reason = reason;
    record.detail = {{"file", options_.config_path}, {"detail", std::move(detail)}};
    audit_->record(std::move(record));
  }

  void add_identity_route() {
    admin_api_.add_route(boost::beast::http::verb::get, "/admin/identity", [this](const HttpRequest& req) {
      const auto& id = audit_->identity();
      const nlohmann::json body{{"key_id", id.key_id()},
                                {"public_key", id.public_key().hex()},
                                {"algorithm", "ed25519"},
                                {"audit_committed_seq", audit_->chain().committed_seq()}};
      return make_response(req, 200, body.dump() + "\n", "application/json");
    });
  }

  void wait_for_signal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        reload();
        wait_for_signal();
        return;
      }
      shutdown(signo);
    });
  }

  void reload() {
    if (options_.config_path.empty()) {
      log::info("app", "SIGHUP: running on the embedded default config; nothing to reload");
      reloads_.Add({{"result", "unchanged"}}).Increment();
      return;
    }
    auto loaded = config::load_config_file(options_.config_path);
    if (!loaded.ok()) {
      std::string all;
      for (const auto& e : loaded.errors) {
        log::error("config", "reload rejected; keeping the running config",
                   {{"file", options_.config_path}, {"error", e.to_string()}});
        all += e.to_string() + "; ";
      }
      reloads_.Add({{"result", "rejected"}}).Increment();
      audit_config_event("deny", "config:invalid", all);
      return;
    }
    const auto old = config_.load();
    auto fresh = std::make_shared<const config::Config>(std::move(*loaded.config));
    const auto& l = fresh->listeners;
    if (l.proxy != old->listeners.proxy || l.gateway != old->listeners.gateway ||
        l.admin != old->listeners.admin || fresh->state_dir != old->state_dir) {
      log::warn("config", "listener and state_dir changes take effect after a restart");
    }
    if (!blocklist_.reload(*fresh)) {
      reloads_.Add({{"result", "rejected"}}).Increment();
      audit_config_event("deny", "config:invalid", "egress policy rejected");
      return;
    }
    if (governance_) {
      const auto policy_errors = governance_->reload_tool_policy();
      for (const auto& e : policy_errors) {
        log::error("policy", "tool policy reload rejected; keeping the running policy", {{"error", e}});
      }
      if (policy_errors.empty()) attested_policy_.loaded(governance_->tool_policy_file);
    }
    apply_logging(*fresh);
    admin_api_.set_token(load_admin_token(*fresh));
    admin_api_.set_metrics_require_token(fresh->admin.metrics_require_token);
    config_.store(fresh);
    reloads_.Add({{"result", "applied"}}).Increment();
    audit_config_event("allow", "config:reloaded", "");
    log::info("config", "configuration reloaded", {{"file", options_.config_path}});
  }

  void shutdown(int signo) {
    log::info("app", "shutting down: no new connections, draining in-flight work",
              {{"signal", signo == SIGTERM ? "SIGTERM" : "SIGINT"},
               {"drain_timeout_s", static_cast<long>(options_.drain_timeout.count())}});
    signals_.cancel();
    admin_server_.stop();
    if (proxy_) proxy_->stop();
    if (gateway_) gateway_->stop();
    drain_deadline_ = std::chrono::steady_clock::now() + options_.drain_timeout;
    poll_drain();
  }

  std::size_t in_flight() const {
    return admin_server_.active_connections() + (proxy_ ? proxy_->active_connections() : 0) +
           (gateway_ ? gateway_->active_requests() : 0);
  }

  void poll_drain() {
    if (in_flight() == 0 || std::chrono::steady_clock::now() >= drain_deadline_) {
      if (in_flight() != 0) {
        log::warn("app", "drain deadline reached; closing remaining connections",
                  {{"in_flight", in_flight()}});
      }
      if (proxy_) proxy_->close_all();
      if (gateway_) gateway_->close_all();
      // Let the cancellations run before the loop stops, so every socket closes cleanly.
      drain_timer_.expires_after(std::chrono::milliseconds(100));
      drain_timer_.async_wait([this](const boost::system::error_code&) { ioc_.stop(); });
      return;
    }
    drain_timer_.expires_after(std::chrono::milliseconds(50));
    drain_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) poll_drain();
    });
  }

  RunOptions options_;
  asio::io_context ioc_;
  std::atomic<ConfigPtr> config_;
  Metrics metrics_;
  Readiness readiness_;
  prometheus::Family<prometheus::Counter>& reloads_;
  AdminApi admin_api_;
  HttpServer admin_server_;
  asio::signal_set signals_;
  BlocklistService blocklist_;
  std::unique_ptr<AuditService> audit_;
  std::unique_ptr<GatewayGovernance> governance_;
  std::unique_ptr<StateBackendService> state_backend_;  // outlives gateway_ (declared before it)
  std::shared_ptr<TrustActions> trust_actions_;
  AttestedToolPolicy attested_policy_;  // what GET /admin/attest states about the tool policy
  std::unique_ptr<InferenceGateway> gateway_;
  std::unique_ptr<ForwardProxy> proxy_;
  KernelEventService kernel_events_{metrics_.registry(),
                                    [this](const bpf::DenyEvent& e) { on_kernel_event(e); }};
  asio::steady_timer drain_timer_{ioc_};
  std::chrono::steady_clock::time_point drain_deadline_{};
  std::atomic<int> exit_code_{0};
};

}  // namespace

int run(const RunOptions& options) {
  auto loaded = options.config_path.empty() ? config::load_default_config()
                                            : config::load_config_file(options.config_path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) {
      log::error("config", "invalid configuration", {{"file", loaded.source}, {"error", e.to_string()}});
    }
    return 2;
  }
  apply_logging(*loaded.config);
  App app(options, std::move(*loaded.config));
  return app.run();
}

}  // namespace sallyport::router

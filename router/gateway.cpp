// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (the awaitable frame's
// operator new/delete pair is Asio's own recycling allocator).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include "router/gateway.hpp"

#include "common/log.hpp"
#include "config/loader.hpp"
#include "governance/api_error.hpp"
#include "governance/usage.hpp"
#include "router/gateway_internal.hpp"
#include "router/listen_address.hpp"
#include "router/mcp_exchange.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <limits>

namespace sallyport::router {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::uint32_t kHeaderLimit = 32 * 1024;
constexpr std::chrono::seconds kKeyCacheTtl{60};

std::string json_response_body(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

HttpResponse admin_json(const HttpRequest& req, unsigned status, const nlohmann::json& body) {
  return make_response(req, status, json_response_body(body) + "\n", "application/json");
}

HttpResponse admin_error(const HttpRequest& req, unsigned status, std::string message) {
  return admin_json(req, status, {{"error", std::move(message)}});
}

std::string iso_time(std::chrono::system_clock::time_point t) {
  const auto secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json approval_json(const governance::ApprovalRecord& r) {
  return {{"id", r.id},          {"sandbox", r.sandbox},       {"tool", r.tool},
          {"rule", r.rule},      {"call_id", r.call_id},       {"args_sha256", r.args_sha256},
          {"state", governance::to_string(r.state)},
          {"created", iso_time(r.created)}, {"expires", iso_time(r.expires)}};
}

nlohmann::json trust_json(const governance::TrustStatus& s) {
  return {{"agent", s.agent},          {"score", s.score}, {"tier", s.tier},
          {"tier_name", s.tier_name}, {"below_threshold", s.below_threshold},
          {"quarantined", s.quarantined()}};
}

}  // namespace

// ---- metrics ----------------------------------------------------------------------------------

GatewayMetrics::GatewayMetrics(prometheus::Registry& registry)
    : requests(prometheus::BuildCounter()
                   .Name("sallyport_gateway_requests_total")
                   .Help("Inference gateway requests by route, provider and answer status.")
                   .Register(registry)),
      tokens(prometheus::BuildCounter()
                 .Name("sallyport_tokens_total")
                 .Help("Model tokens by model and direction (input/output), from provider usage.")
                 .Register(registry)),
      budget_remaining(prometheus::BuildGauge()
                           .Name("sallyport_budget_remaining_tokens")
                           .Help("Tokens left in the budget window (daily).")
                           .Register(registry)),
      budget_limit(prometheus::BuildGauge()
                       .Name("sallyport_budget_limit_tokens")
                       .Help("The token budget of the window (daily cap); with "
                             "sallyport_budget_remaining_tokens it gives the share used.")
                       .Register(registry)),
      uncharged(prometheus::BuildCounter()
                    .Name("sallyport_uncharged_responses_total")
                    .Help("Successful answers whose usage could not be read (charged at the "
                          "reserved amount).")
                    .Register(registry)
                    .Add({})),
      upstream_seconds(prometheus::BuildHistogram()
                           .Name("sallyport_gateway_upstream_seconds")
                           .Help("Time from sending the request upstream to its response header.")
                           .Register(registry)
                           .Add({}, prometheus::Histogram::BucketBoundaries{
                                        0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                                        30, 60, 120})),
      upstream_errors(prometheus::BuildCounter()
                          .Name("sallyport_gateway_upstream_errors_total")
                          .Help("Upstream failures by provider and kind.")
                          .Register(registry)),
      in_flight(prometheus::BuildGauge()
                    .Name("sallyport_gateway_in_flight")
                    .Help("Gateway requests being handled now.")
                    .Register(registry)
                    .Add({})) {}

std::string GatewayMetrics::model_label(std::string_view model) {
  if (model.empty()) return "unknown";
  if (model.size() > 64) return "other";
  for (const char c : model) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_' &&
        c != ':' && c != '/') {
      return "other";
    }
  }
  std::lock_guard lock(mutex_);
  if (models_.contains(model)) return std::string(model);
  if (models_.size() >= 100) return "other";
  models_.emplace(model);
  return std::string(model);
}

ProviderKeys::Key ProviderKeys::get(const config::Provider& provider) {
  if (!provider.api_key) return {std::string(), {}};
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    auto it = cache_.find(provider.name);
    if (it != cache_.end() && now - it->second.second < kKeyCacheTtl) return {it->second.first, {}};
  }
  auto secret = config::resolve_secret(*provider.api_key);
  if (!secret.value || secret.value->empty()) {
    return {std::nullopt, "api_key " + provider.api_key->describe() + " is unavailable"};
  }
  std::lock_guard lock(mutex_);
  cache_[provider.name] = {*secret.value, now};
  return {std::move(secret.value), {}};
}

// ---- listener and sessions ----------------------------------------------------------------------

InferenceGateway::Impl::Impl(asio::io_context& io, const config::Config& config,
                             PolicySource egress_policy, GatewayDeps d,
                             prometheus::Registry& registry,
                             std::function<void(const GatewayEvent&)> events)
    : ioc(io),
      cfg(config),
      deps(std::move(d)),
      metrics(registry),
      on_event(std::move(events)),
      pool(io.get_executor(), std::move(egress_policy),
           UpstreamTimeouts{config.gateway.connect_timeout, config.gateway.first_byte_timeout,
                            config.gateway.idle_timeout}),
      acceptor(io) {
  for (const auto& p : cfg.providers) {
    auto parsed = parse_base_url(p.base_url);
    if (!parsed.url) {
      log::error("gateway", "provider base_url rejected; requests for it answer 503",
                 {{"provider", p.name}, {"error", parsed.error}});
    }
    base_urls.emplace(p.name, std::move(parsed));
  }
  mcp = std::make_unique<McpGateway>(cfg, registry);
}

void InferenceGateway::Impl::emit(const GatewayEvent& event) const {
  if (on_event) on_event(event);
}

std::string InferenceGateway::Impl::budget_remaining_header() {
  if (!deps.budget) return "unlimited";
  const auto budget = deps.budget->snapshot();
  const auto remaining = budget.remaining_today;
  if (remaining == std::numeric_limits<std::int64_t>::max()) return "unlimited";
  metrics.budget_remaining.Add({{"window", "daily"}}).Set(static_cast<double>(remaining));
  metrics.budget_limit.Add({{"window", "daily"}}).Set(static_cast<double>(budget.daily_cap));
  return std::to_string(remaining);
}

asio::awaitable<void> InferenceGateway::Impl::accept_loop() {
  auto self = shared_from_this();
  while (!stopping.load()) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping.load()) break;
      log::warn("gateway", "accept failed", {{"error", ec.message()}});
      continue;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto client = std::make_shared<beast::tcp_stream>(std::move(socket));
    asio::co_spawn(client->get_executor(), run_session(client), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log::error("gateway", "session ended by an exception", {{"error", ex.what()}});
      }
    });
  }
}

asio::awaitable<void> InferenceGateway::Impl::run_session(std::shared_ptr<beast::tcp_stream> client) {
  auto self = shared_from_this();
  std::uint64_t id;
  {
    std::lock_guard lock(sessions_mutex);
    id = next_session++;
    sessions.emplace(id, client);
  }
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(cfg.gateway.max_request_bytes);
    client->expires_after(cfg.gateway.idle_timeout);
    auto [ec, n] = co_await http::async_read(*client, buffer, parser, kTuple);
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == asio::error::connection_reset || stopping.load()) {
      break;
    }
    if (ec) {
      const bool too_big = ec == http::error::body_limit;
      const auto err = governance::make_api_error(
          too_big ? governance::ApiErrorKind::bad_request : governance::ApiErrorKind::bad_request,
          too_big ? "request body exceeds gateway.max_request_bytes" : "malformed HTTP request",
          governance::ApiFlavor::openai);
      HttpResponse res{static_cast<http::status>(too_big ? 413 : err.status), 11};
      res.set(http::field::content_type, "application/json");
      res.body() = err.body;
      res.keep_alive(false);
      res.prepare_payload();
      client->expires_after(std::chrono::seconds(10));
      co_await http::async_write(*client, res, kTuple);
      break;
    }
    auto request = parser.release();
    active.fetch_add(1);
    metrics.in_flight.Increment();
    bool keep = false;  // if/else, not ?: — GCC 12 mishandles co_await inside a conditional
    if (is_mcp_target(request.target())) {
      keep = co_await handle_mcp_request(*this, *client, request);
    } else {
      keep = co_await handle_gateway_request(*this, *client, request);
    }
    metrics.in_flight.Decrement();
    active.fetch_sub(1);
    if (!keep || stopping.load()) break;
  }
  boost::system::error_code ignored;
  client->socket().shutdown(tcp::socket::shutdown_send, ignored);
  client->socket().close(ignored);
  std::lock_guard lock(sessions_mutex);
  sessions.erase(id);
}

// ---- public API ---------------------------------------------------------------------------------

InferenceGateway::InferenceGateway(asio::io_context& ioc, const config::Config& cfg,
                                   PolicySource egress_policy, GatewayDeps deps,
                                   prometheus::Registry& metrics,
                                   std::function<void(const GatewayEvent&)> on_event)
    : impl_(std::make_shared<Impl>(ioc, cfg, std::move(egress_policy), std::move(deps), metrics,
                                   std::move(on_event))) {}

InferenceGateway::~InferenceGateway() { stop(); }

boost::system::error_code InferenceGateway::start() {
  const auto endpoint = parse_listen_address(impl_->cfg.listeners.gateway);
  if (!endpoint) return asio::error::invalid_argument;
  boost::system::error_code ec;
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint->protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(*endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return ec;
  impl_->budget_remaining_header();  // publishes the gauge
  asio::co_spawn(acceptor.get_executor(), impl_->accept_loop(), asio::detached);
  log::info("gateway", "inference gateway listening",
            {{"listen", impl_->cfg.listeners.gateway},
             {"providers", impl_->cfg.providers.size()}});
  return {};
}

tcp::endpoint InferenceGateway::local_endpoint() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec);
}

void InferenceGateway::stop() {
  if (impl_->stopping.exchange(true)) return;
  asio::post(impl_->acceptor.get_executor(), [impl = impl_] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
  });
}

void InferenceGateway::close_all() {
  stop();
  std::lock_guard lock(impl_->sessions_mutex);
  for (auto& [id, weak] : impl_->sessions) {
    if (auto client = weak.lock()) {
      asio::post(client->get_executor(), [client] {
        boost::system::error_code ignored;
        client->socket().shutdown(tcp::socket::shutdown_both, ignored);
        client->socket().close(ignored);
      });
    }
  }
}

std::size_t InferenceGateway::active_requests() const { return impl_->active.load(); }

void InferenceGateway::register_admin_routes(const AdminRouteAdder& add) {
  auto impl = impl_;
  if (auto* ledger = impl->deps.budget) {
    auto snapshot_json = [impl, ledger] {
      const auto s = ledger->snapshot();
      impl->budget_remaining_header();
      return nlohmann::json{{"day", s.day},
                            {"daily_cap", s.daily_cap},
                            {"per_request_cap", s.per_request_cap},
                            {"spent_today", s.spent_today},
                            {"reserved_in_flight", s.reserved_in_flight},
                            {"in_flight_requests", s.in_flight_requests},
                            {"remaining_today", s.remaining_today},
                            {"journal_errors", s.journal_errors}};
    };
    add(http::verb::get, "/admin/budget",
        [snapshot_json](const HttpRequest& req) { return admin_json(req, 200, snapshot_json()); });
    add(http::verb::post, "/admin/budget", [snapshot_json, ledger](const HttpRequest& req) {
      auto body = governance::parse_json(req.body());
      if (!body || !body->is_object() || !(*body)["action"].is_string()) {
        return admin_error(req, 400, R"(expected {"action":"reset"} or {"action":"raise","daily_tokens":N})");
      }
      const auto action = (*body)["action"].get<std::string>();
      if (action == "reset") {
        ledger->reset();
      } else if (action == "raise" && (*body)["daily_tokens"].is_number_unsigned()) {
        ledger->raise((*body)["daily_tokens"].get<std::int64_t>());
      } else {
        return admin_error(req, 400, "action must be \"reset\" or \"raise\" with daily_tokens >= 0");
      }
      log::info("gateway", "budget changed through the admin API", {{"action", action}});
      return admin_json(req, 200, snapshot_json());
    });
  }
  if (auto* approvals = impl->deps.approvals) {
    auto* fleet = impl->deps.fleet_approvals;
    add(http::verb::get, "/admin/approvals", [approvals, fleet](const HttpRequest& req) {
      auto pending = approvals->list_pending();
      // Fleet mode: the tenant's pending records from every replica (local ones when Redis
      // does not answer).
      std::optional<std::vector<governance::ApprovalRecord>> shared;
      if (fleet) shared = fleet->list_pending();
      if (shared) {
        for (auto& r : *shared) {
          const bool local = std::any_of(pending.begin(), pending.end(), [&](const auto& p) { return p.id == r.id; });
          if (!local) pending.push_back(std::move(r));
        }
        std::stable_sort(pending.begin(), pending.end(), [](const auto& a, const auto& b) { return a.created < b.created; });
      }
      auto list = nlohmann::json::array();
      for (const auto& r : pending) list.push_back(approval_json(r));
      nlohmann::json body{{"pending", std::move(list)}};
      if (fleet) body["fleet"] = shared.has_value();
      return admin_json(req, 200, body);
    });
    add(http::verb::post, "/admin/approvals/", [approvals, fleet](const HttpRequest& req) {
      const std::string_view target = req.target();
      const auto id = target.substr(std::string_view("/admin/approvals/").size());
      auto body = governance::parse_json(req.body());
      if (!body || !body->is_object() || !(*body)["decision"].is_string()) {
        return admin_error(req, 400, R"(expected {"decision":"approve"|"deny","actor":"…","reason":"…"})");
      }
      const auto decision = (*body)["decision"].get<std::string>();
      if (decision != "approve" && decision != "deny") {
        return admin_error(req, 400, "decision must be \"approve\" or \"deny\"");
      }
      const auto text = [&](const char* key) {
        const auto& v = (*body)[key];
        return v.is_string() ? v.get<std::string>() : std::string("admin");
      };
      governance::ApprovalStore::DecideResult result;
      if (fleet) {
        // Decided in Redis first, so one decision wins fleet-wide (governance/fleet_approvals.hpp).
        auto shared = fleet->decide(id, decision == "approve", text("actor"), text("reason"));
        if (shared.unavailable) {
          return admin_error(req, 503, "approval not known here and the state backend did not answer: " + shared.detail);
        }
        result = {shared.status, std::move(shared.record)};
      } else {
        result = approvals->decide(id, decision == "approve", text("actor"), text("reason"));
      }
      if (result.status == governance::ApprovalStore::DecideStatus::not_found) {
        return admin_error(req, 404, "no approval with this id");
      }
      auto j = result.record ? approval_json(*result.record) : nlohmann::json::object();
      j["result"] = result.status == governance::ApprovalStore::DecideStatus::decided
                        ? "decided" : "already_decided";
      return admin_json(req, result.status == governance::ApprovalStore::DecideStatus::decided ? 200 : 409, j);
    });
  }
  if (auto* trust = impl->deps.trust) {
    const std::string agent = impl->deps.agent;
    add(http::verb::get, "/admin/trust", [trust](const HttpRequest& req) {
      auto list = nlohmann::json::array();
      for (const auto& s : trust->list()) list.push_back(trust_json(s));
      return admin_json(req, 200, {{"agents", std::move(list)}});
    });
    add(http::verb::post, "/admin/trust", [trust, agent](const HttpRequest& req) {
      auto body = governance::parse_json(req.body());
      if (!body || !body->is_object() || (*body)["action"] != "reset" ||
          !(*body)["reason"].is_string()) {
        return admin_error(req, 400, R"(expected {"action":"reset","reason":"…","score"?:N,"agent"?:"…"})");
      }
      std::optional<int> score;
      if ((*body)["score"].is_number_integer()) {
        const auto v = (*body)["score"].get<std::int64_t>();
        if (v < 0 || v > 1000) return admin_error(req, 400, "score must be 0..1000");
        score = static_cast<int>(v);
      }
      const auto who = (*body)["agent"].is_string() ? (*body)["agent"].get<std::string>() : agent;
      const auto actor = (*body)["actor"].is_string() ? (*body)["actor"].get<std::string>() : "admin";
      trust->reset(who, score, actor, (*body)["reason"].get<std::string>());
      return admin_json(req, 200, trust_json(trust->status(who)));
    });
  }
}

}  // namespace sallyport::router

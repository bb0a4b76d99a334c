#pragma once
// One gateway request from parse to answer (internal to router/gateway*.cpp). The pipeline order
// is documented once, in router/gateway.hpp.
#include "governance/api_error.hpp"
#include "governance/rate_limiter.hpp"
#include "governance/tool_calls.hpp"
#include "governance/usage.hpp"
#include "router/gateway_internal.hpp"
#include "router/sse_relay.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/fields.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sallyport::router {

class GatewayExchange {
 public:
  GatewayExchange(InferenceGateway::Impl& gw, boost::beast::tcp_stream& client, HttpRequest& req);
  boost::asio::awaitable<bool> run();

 private:
  using Clock = std::chrono::steady_clock;
  using HeaderList = std::vector<std::pair<std::string, std::string>>;

  // ---- pipeline (gateway_exchange.cpp)
  std::optional<governance::ApiErrorResponse> check_request();
  std::optional<governance::ApiErrorResponse> check_policy();
  std::optional<governance::ApiErrorResponse> take_rate_and_budget();
  boost::asio::awaitable<std::optional<governance::ApiErrorResponse>> acquire_slot();
  // Fleet budget/rate admission and its settlement (state_backend_gateway.cpp).
  boost::asio::awaitable<std::optional<governance::ApiErrorResponse>> take_shared_state();
  void settle_shared(std::optional<std::int64_t> charged);
  governance::ApiErrorResponse deny(const Decision& decision, std::string_view kind,
                                    std::optional<std::int64_t> retry_after = std::nullopt);

  // ---- upstream (gateway_forward.cpp)
  boost::asio::awaitable<bool> forward();
  boost::asio::awaitable<bool> answer_body(std::unique_ptr<UpstreamConnection> conn,
                                           UpstreamParser& parser);
  boost::asio::awaitable<bool> answer_stream(std::unique_ptr<UpstreamConnection> conn,
                                             UpstreamParser& parser);
  boost::asio::awaitable<bool> upstream_failure(UpstreamError error, const std::string& detail);
  boost::asio::awaitable<bool> write_chunk(const std::string& data);
  boost::asio::awaitable<void> wait_for_approvals(SseRelay& relay, std::string& out);
  void copy_upstream_headers(const UpstreamParser& parser, boost::beast::http::fields& out) const;

  // ---- tool calls (gateway_tools.cpp)
  bool tools_active() const;
  governance::TrustInput trust_input() const;
  std::unique_ptr<governance::ToolCallStreamFilter> make_stream_filter();
  boost::asio::awaitable<void> filter_response_tools(nlohmann::json& response, bool& changed);
  void record_tool_verdicts(const std::vector<governance::ToolVerdict>& verdicts,
                            std::string_view kind);

  // ---- answers and accounting (gateway_exchange.cpp)
  boost::asio::awaitable<bool> reply_error(const governance::ApiErrorResponse& error);
  boost::asio::awaitable<bool> reply(unsigned status, std::string body,
                                     std::string_view content_type, const HeaderList& extra);
  void add_common_headers(boost::beast::http::fields& fields) const;
  double overhead_ms() const;
  // Charges the budget/rate buckets: actual usage when known, else the reservation.
  void settle(const std::optional<governance::TokenUsage>& usage, bool billed);
  void finish(int status, std::string_view decision, std::string_view reason,
              std::string_view rule = {});

  InferenceGateway::Impl& gw_;
  boost::beast::tcp_stream& client_;
  HttpRequest& req_;
  Clock::time_point started_ = Clock::now();
  Clock::duration upstream_wait_{};

  RouteMatch route_;
  governance::ApiFlavor flavor_ = governance::ApiFlavor::openai;
  const config::Provider* provider_ = nullptr;
  const BaseUrl* base_ = nullptr;
  std::string model_;
  nlohmann::json body_;
  governance::RequestFacts facts_;
  std::shared_ptr<const governance::ToolPolicy> tool_policy_;
  bool request_has_tools_ = false;
  bool violation_ = false;  // something this request did costs trust (no recovery credit)

  std::optional<governance::Reservation> reservation_;
  std::optional<governance::AdmitTicket> shared_ticket_;  // fleet reservation (state_backend)
  std::int64_t rate_tokens_ = 0;  // taken from the tpm bucket, corrected on settle
  bool settled_ = false;
  HeaderList rate_headers_;
  governance::ConcurrencyPermit permit_;
  bool injected_usage_ = false;

  std::map<std::size_t, std::string> stream_approvals_;  // sequence → approval id
  std::uint64_t prompt_tokens_ = 0, completion_tokens_ = 0;
  bool finished_ = false;
};

}  // namespace sallyport::router

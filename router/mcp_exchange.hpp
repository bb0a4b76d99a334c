#pragma once
// One MCP request on the gateway listener, from parse to answer (internal to router/mcp_*.cpp;
// the contract is in router/mcp_gateway.hpp).
#include "governance/mcp_policy.hpp"
#include "router/gateway_internal.hpp"
#include "router/mcp_gateway.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sallyport::router {

// Entry point from the gateway's request dispatch (gateway.cpp): targets under /mcp/.
boost::asio::awaitable<bool> handle_mcp_request(InferenceGateway::Impl& gw,
                                                boost::beast::tcp_stream& client,
                                                HttpRequest& request);

class McpExchange {
 public:
  McpExchange(InferenceGateway::Impl& gw, McpGateway& mcp, const McpUpstream& server,
              boost::beast::tcp_stream& client, HttpRequest& req, std::string query);
  boost::asio::awaitable<bool> run();

 private:
  // A tools/call of this POST and what became of it.
  struct Call {
    nlohmann::json id;
    std::string tool;
    std::string arguments_json;
    Decision decision;
    std::optional<std::string> approval_id;  // held for an operator
    std::size_t message = 0;                 // index in messages_
  };

  // ---- requests (mcp_exchange.cpp)
  boost::asio::awaitable<bool> run_post();
  void check_messages(governance::mcp::McpPayload& payload);
  boost::asio::awaitable<void> wait_for_approvals();
  std::optional<nlohmann::json> settle_calls();
  void record_call(const Call& call);

  // ---- upstream and answers (mcp_relay.cpp)
  boost::asio::awaitable<bool> forward(std::optional<std::string> body);
  boost::asio::awaitable<bool> relay_body(std::unique_ptr<UpstreamConnection> conn,
                                          UpstreamParser& parser);
  boost::asio::awaitable<bool> relay_stream(std::unique_ptr<UpstreamConnection> conn,
                                            UpstreamParser& parser);
  governance::mcp::ServerInspection inspect(nlohmann::json& payload);
  boost::asio::awaitable<bool> write_chunk(const std::string& data, bool chunked);
  boost::asio::awaitable<bool> reply(unsigned status, std::string body,
                                     const boost::beast::http::fields& headers);
  boost::asio::awaitable<bool> reply_json(unsigned status, const nlohmann::json& body);
  boost::asio::awaitable<bool> upstream_failure(std::string_view kind, std::string_view detail);
  void count(unsigned status);

  InferenceGateway::Impl& gw_;
  McpGateway& mcp_;
  const McpUpstream& server_;
  boost::beast::tcp_stream& client_;
  HttpRequest& req_;
  std::string query_;
  std::vector<nlohmann::json> messages_;  // what the agent POSTed
  std::vector<bool> keep_;                // messages_[i] goes upstream
  std::vector<Call> calls_;
  std::vector<nlohmann::json> local_errors_;  // answered by sallyport (denied calls, bad messages)
  std::map<std::string, std::string> call_tools_;  // id (compact JSON) -> tool, for the shield
  bool batch_ = false;
  bool counted_ = false;
};

}  // namespace sallyport::router

// The agent's request head as the forward proxy sees it: raw-head scan, Beast parse with our
// limits, framing checks and target parsing never crash on any bytes.
#include "router/proxy_request.hpp"

#include <boost/beast/http.hpp>

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace http = boost::beast::http;
  using namespace sallyport::router;
  const std::string_view head(reinterpret_cast<const char*>(data), size);
  (void)scan_raw_head(head);
  http::request_parser<http::empty_body> parser;
  parser.header_limit(16384);
  parser.eager(false);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(head.data(), head.size()), ec);
  if (parser.is_header_done()) {
    const auto& req = parser.get();
    (void)check_framing(req);
    (void)parse_connect_target(req.target());
    (void)parse_absolute_target(req.target());
  }
  (void)parse_connect_target(head);
  (void)parse_absolute_target(head);
  return 0;
}

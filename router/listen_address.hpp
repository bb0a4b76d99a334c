#pragma once
// "127.0.0.1:3128" / "[::1]:8787" → a TCP endpoint. Only numeric addresses: a listener never
// depends on DNS.
#include <boost/asio/ip/tcp.hpp>

#include <optional>
#include <string_view>

namespace sallyport::router {

std::optional<boost::asio::ip::tcp::endpoint> parse_listen_address(std::string_view text);

}  // namespace sallyport::router

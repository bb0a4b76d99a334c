#include "router/proxy_request.hpp"

#include <boost/beast/http/parser.hpp>
#include <gtest/gtest.h>

namespace sallyport::router {
namespace {
namespace http = boost::beast::http;

std::string kind_of_scan(std::string_view head) {
  auto problem = scan_raw_head(head);
  return problem ? problem->kind : "ok";
}

TEST(ProxyRequestScan, RejectsSmugglingShapesByName) {
  struct Case { const char* head; const char* kind; };
  const Case cases[] = {
      {"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", "ok"},
      {"GET http://a/ HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n", "obs-fold"},
      {"GET http://a/ HTTP/1.1\r\nX-A: 1\r\n\tfolded\r\n\r\n", "obs-fold"},
      {"POST http://a/ HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "te-and-cl"},
      {"POST http://a/ HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n", "te-and-cl"},
      {"POST http://a/ HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", "duplicate-content-length"},
      {"GET http://a/ HTTP/1.1\nHost: a\r\n\r\n", "bare-lf"},
      {"GET http://a/ HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", "bare-cr"},
      {"GET http://a/ HTTP/1.1\r\nContent-Length : 3\r\n\r\n", "bad-field"},
  };
  for (const auto& c : cases) EXPECT_EQ(kind_of_scan(c.head), c.kind) << c.head;
  EXPECT_EQ(kind_of_scan(std::string_view("GET http://a/ HTTP/1.1\r\nX: \0\r\n\r\n", 31)), "nul-byte");
}

http::request<http::empty_body> parse(std::string_view head) {
  http::request_parser<http::empty_body> parser;
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(head.data(), head.size()), ec);
  EXPECT_FALSE(ec) << ec.message();
  return parser.release();
}

TEST(ProxyRequestFraming, ChecksMethodsAndTransferEncoding) {
  EXPECT_FALSE(check_framing(parse("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n")));
  EXPECT_EQ(check_framing(parse("TRACE http://a/ HTTP/1.1\r\n\r\n"))->kind, "bad-method");
  EXPECT_EQ(check_framing(parse("BREW http://a/ HTTP/1.1\r\n\r\n"))->kind, "bad-method");
  EXPECT_EQ(check_framing(parse("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"))->kind,
            "bad-transfer-encoding");
  EXPECT_FALSE(check_framing(parse("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")));
}

TEST(ProxyRequestTarget, ParsesConnectTargets) {
  auto ok = std::get<ProxyTarget>(parse_connect_target("example.com:443"));
  EXPECT_EQ(ok.host, "example.com");
  EXPECT_EQ(ok.port, 443);
  auto v6 = std::get<ProxyTarget>(parse_connect_target("[::ffff:169.254.169.254]:443"));
  EXPECT_EQ(v6.host, "::ffff:169.254.169.254");
  for (const char* bad : {"example.com", "example.com:0", "example.com:70000", "/path", "http://a:1",
                          "[::1:443", "a b:443", ":443", "example.com:44x"})
    EXPECT_TRUE(std::holds_alternative<RequestError>(parse_connect_target(bad))) << bad;
}

TEST(ProxyRequestTarget, ParsesAbsoluteFormAndRejectsOriginForm) {
  auto t = std::get<ProxyTarget>(parse_absolute_target("HTTP://Example.com:8080/a/b?c=d#frag"));
  EXPECT_EQ(t.host, "Example.com");
  EXPECT_EQ(t.port, 8080);
  EXPECT_EQ(t.origin_form, "/a/b?c=d");
  EXPECT_EQ(t.authority, "Example.com:8080");
  auto bare = std::get<ProxyTarget>(parse_absolute_target("http://example.com?q"));
  EXPECT_EQ(bare.origin_form, "/?q");
  EXPECT_EQ(bare.port, 80);
  EXPECT_EQ(std::get<RequestError>(parse_absolute_target("/index.html")).kind, "origin-form");
  EXPECT_EQ(std::get<RequestError>(parse_absolute_target("https://a/")).kind, "bad-scheme");
  EXPECT_EQ(std::get<RequestError>(parse_absolute_target("http://user:pw@a/")).kind, "userinfo");
  EXPECT_EQ(std::get<RequestError>(parse_absolute_target("http://a:0/")).kind, "bad-port");
}

TEST(ProxyRequestHeaders, StripsHopByHopIncludingConnectionListed) {
  http::fields fields;
  fields.set(http::field::connection, "keep-alive, X-Secret-Hop, content-length");
  fields.set("X-Secret-Hop", "1");
  fields.set(http::field::keep_alive, "timeout=5");
  fields.set(http::field::proxy_authorization, "Bearer t");
  fields.set(http::field::upgrade, "websocket");
  fields.set(http::field::te, "trailers");
  fields.set(http::field::content_length, "3");
  fields.set(http::field::user_agent, "curl");
  strip_hop_by_hop(fields);
  EXPECT_EQ(fields.count("X-Secret-Hop"), 0u);
  EXPECT_EQ(fields.count(http::field::connection), 0u);
  EXPECT_EQ(fields.count(http::field::keep_alive), 0u);
  EXPECT_EQ(fields.count(http::field::proxy_authorization), 0u);
  EXPECT_EQ(fields.count(http::field::upgrade), 0u);
  EXPECT_EQ(fields.count(http::field::te), 0u);
  EXPECT_EQ(fields[http::field::content_length], "3");  // framing survives being listed
  EXPECT_EQ(fields[http::field::user_agent], "curl");
  append_via(fields, "sallyport");
  EXPECT_EQ(fields[http::field::via], "1.1 sallyport");
  append_via(fields, "sallyport");
  EXPECT_EQ(fields[http::field::via], "1.1 sallyport, 1.1 sallyport");
}

TEST(ProxyRequestAuth, AcceptsBearerAndBasicPasswordOnly) {
  EXPECT_EQ(check_proxy_authorization("Bearer s3cret", "s3cret"), AuthResult::ok);
  EXPECT_EQ(check_proxy_authorization("bearer s3cret", "s3cret"), AuthResult::ok);
  // base64("agent:s3cret") = YWdlbnQ6czNjcmV0
  EXPECT_EQ(check_proxy_authorization("Basic YWdlbnQ6czNjcmV0", "s3cret"), AuthResult::ok);
  EXPECT_EQ(check_proxy_authorization("Basic YWdlbnQ6d3Jvbmc=", "s3cret"), AuthResult::invalid);
  EXPECT_EQ(check_proxy_authorization("Bearer s3cre", "s3cret"), AuthResult::invalid);
  EXPECT_EQ(check_proxy_authorization("Bearer s3cret2", "s3cret"), AuthResult::invalid);
  EXPECT_EQ(check_proxy_authorization("Digest x", "s3cret"), AuthResult::invalid);
  EXPECT_EQ(check_proxy_authorization("Basic !!!!", "s3cret"), AuthResult::invalid);
  EXPECT_EQ(check_proxy_authorization("", "s3cret"), AuthResult::missing);
}

TEST(ProxyRequestHost, ComparableHostIgnoresCaseAndOneTrailingDot) {
  EXPECT_EQ(comparable_host("WWW.Example.COM."), "www.example.com");
  EXPECT_EQ(comparable_host("a.b"), "a.b");
}

}  // namespace
}  // namespace sallyport::router

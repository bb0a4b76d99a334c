#include "router/tls_peek.hpp"

#include "router/test/proxy_test_support.hpp"

#include <gtest/gtest.h>

namespace sallyport::router {
namespace {

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

TEST(TlsPeek, ReadsSniFromARealClientHello) {
  auto hello = test::client_hello("www.Example.com");
  auto peek = peek_client_hello(bytes_of(hello));
  ASSERT_EQ(peek.status, ClientHelloStatus::complete);
  ASSERT_TRUE(peek.server_name);
  EXPECT_EQ(*peek.server_name, "www.Example.com");
}

TEST(TlsPeek, ReportsMissingSni) {
  auto peek = peek_client_hello(bytes_of(test::client_hello(std::nullopt)));
  EXPECT_EQ(peek.status, ClientHelloStatus::complete);
  EXPECT_FALSE(peek.server_name);
}

TEST(TlsPeek, AsksForMoreUntilTheFirstRecordIsComplete) {
  auto hello = test::client_hello("a.test");
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, std::size_t{4}, std::size_t{5}, hello.size() - 1})
    EXPECT_EQ(peek_client_hello(bytes_of(hello.substr(0, cut))).status, ClientHelloStatus::need_more) << cut;
}

TEST(TlsPeek, RejectsNonTlsAndGarbage) {
  EXPECT_EQ(peek_client_hello(bytes_of("GET / HTTP/1.1\r\n\r\n")).status, ClientHelloStatus::not_tls);
  EXPECT_EQ(peek_client_hello(bytes_of(std::string("\x16\x05\x01", 3))).status, ClientHelloStatus::not_tls);
  // A handshake record whose inner lengths lie.
  std::string liar("\x16\x03\x01\x00\x06\x01\x00\xff\xff\x03\x03", 11);
  EXPECT_EQ(peek_client_hello(bytes_of(liar)).status, ClientHelloStatus::malformed);
  // Every truncation of a real hello's inner body, re-wrapped in a consistent record header,
  // must parse without crashing.
  auto hello = test::client_hello("fuzz.test");
  for (std::size_t length = 1; length + 5 < hello.size(); length += 7) {
    std::string record = hello.substr(0, 5 + length);
    record[3] = static_cast<char>(length >> 8);
    record[4] = static_cast<char>(length & 0xff);
    auto status = peek_client_hello(bytes_of(record)).status;
    EXPECT_NE(status, ClientHelloStatus::need_more);
  }
}

}  // namespace
}  // namespace sallyport::router

#include "router/dns_client.hpp"

#include <gtest/gtest.h>

namespace sallyport::router::dns {
namespace {

// A response to `query` with the given answer records appended (raw wire bytes).
std::vector<std::uint8_t> respond(std::vector<std::uint8_t> query, std::uint16_t answers,
                                  const std::vector<std::uint8_t>& records, std::uint8_t rcode = 0) {
  query[2] = 0x81;
  query[3] = static_cast<std::uint8_t>(0x80 | rcode);
  query[6] = 0;
  query[7] = static_cast<std::uint8_t>(answers);
  query.insert(query.end(), records.begin(), records.end());
  return query;
}

TEST(DnsClient, BuildsAStandardQuery) {
  auto q = build_query(0xBEEF, "WWW.Example.com.", type_a);
  std::vector<std::uint8_t> expected{0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
                                     3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
                                     3, 'c', 'o', 'm', 0, 0, 1, 0, 1};
  EXPECT_EQ(q, expected);
  EXPECT_TRUE(build_query(1, "a..b", type_a).empty());
  EXPECT_TRUE(build_query(1, std::string(64, 'a') + ".com", type_a).empty());
}

TEST(DnsClient, ParsesAnswersAlongTheCnameChainOnly) {
  auto q = build_query(7, "a.test", type_a);
  std::vector<std::uint8_t> records{
      0xC0, 0x0C, 0, 5, 0, 1, 0, 0, 0, 5, 0, 4, 1, 'b', 0xC0, 0x0E,  // a.test CNAME b.test
      1, 'b', 0xC0, 0x0E, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 169, 254, 169, 254,  // b.test A
      1, 'z', 0xC0, 0x0E, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 1, 2, 3, 4,  // z.test A: not in chain
  };
  auto parsed = parse_answer(respond(q, 3, records), 7, "a.test", type_a);
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->addresses.size(), 1u);
  EXPECT_EQ(parsed->addresses[0].to_string(), "169.254.169.254");
}

TEST(DnsClient, IgnoresAnswersToOtherQuestions) {
  auto q = build_query(7, "a.test", type_a);
  auto response = respond(q, 0, {});
  EXPECT_FALSE(parse_answer(response, 8, "a.test", type_a));       // wrong id
  EXPECT_FALSE(parse_answer(response, 7, "b.test", type_a));       // wrong name
  EXPECT_FALSE(parse_answer(response, 7, "a.test", type_aaaa));    // wrong type
  EXPECT_FALSE(parse_answer(q, 7, "a.test", type_a));              // a query, not a response
  auto nx = parse_answer(respond(q, 0, {}, 3), 7, "a.test", type_a);
  ASSERT_TRUE(nx);
  EXPECT_EQ(nx->rcode, 3);
}

TEST(DnsClient, SurvivesTruncatedAndLoopingPackets) {
  auto q = build_query(9, "a.test", type_a);
  std::vector<std::uint8_t> loop{0xC0, 0x21, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 1, 2, 3, 4};
  auto looping = respond(q, 1, loop);
  looping[33] = 0xC0;  // the answer's name points at itself
  looping[34] = 33;
  EXPECT_FALSE(parse_answer(looping, 9, "a.test", type_a) && !parse_answer(looping, 9, "a.test", type_a)->addresses.empty());
  auto full = respond(q, 1, {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 1, 2, 3, 4});
  for (std::size_t cut = 0; cut < full.size(); ++cut) {
    std::vector<std::uint8_t> part(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_FALSE(parse_answer(part, 9, "a.test", type_a)) << cut;
  }
}

TEST(DnsClient, ParsesResolverAddresses) {
  EXPECT_EQ(parse_resolver("10.0.0.2")->port(), 53);
  EXPECT_EQ(parse_resolver("127.0.0.1:5353")->port(), 5353);
  EXPECT_EQ(parse_resolver("[::1]:5353")->address().to_string(), "::1");
  EXPECT_EQ(parse_resolver("::1")->address().to_string(), "::1");
  EXPECT_FALSE(parse_resolver("resolver.local"));
  EXPECT_FALSE(parse_resolver("127.0.0.1:0"));
}

}  // namespace
}  // namespace sallyport::router::dns

// DomainSet: exact + parent-suffix semantics on label boundaries, provenance, and agreement with
// a naive suffix walk over the real OISD list.
#include "blocklist/domain_set.hpp"
#include "blocklist/feed_parser.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <unordered_set>

namespace sallyport::blocklist {
namespace {

DomainSet make_set(std::initializer_list<std::pair<const char*, std::uint16_t>> names) {
  DomainSet::Builder builder;
  for (const auto& [name, tag] : names) builder.add(name, tag);
  return std::move(builder).build();
}

TEST(DomainSet, BlocksTheDomainAndEverySubdomainButNotLookalikes) {
  const DomainSet set = make_set({{"evil.com", 0}});
  for (const char* host : {"evil.com", "a.evil.com", "a.b.evil.com", "x.y.z.evil.com"}) {
    const auto match = set.find(host);
    ASSERT_TRUE(match.has_value()) << host;
    EXPECT_EQ(match->rule, "evil.com");
  }
  for (const char* host : {"notevil.com", "evil.com.au", "evil.co", "com", "vil.com", "evilcom",
                           "a.notevil.com", "evil.comm", "xevil.com"}) {
    EXPECT_FALSE(set.find(host).has_value()) << host;
  }
}

TEST(DomainSet, NamesTheMostSpecificRuleAndKeepsTheFirstTagOfADuplicate) {
  const DomainSet set = make_set({{"example.com", 1}, {"ads.example.com", 2}, {"example.com", 3}});
  EXPECT_EQ(set.size(), 2u);
  EXPECT_EQ(set.duplicates_dropped(), 1u);
  auto match = set.find("x.ads.example.com");
  ASSERT_TRUE(match);
  EXPECT_EQ(match->rule, "ads.example.com");
  EXPECT_EQ(match->tag, 2);
  match = set.find("www.example.com");
  ASSERT_TRUE(match);
  EXPECT_EQ(match->rule, "example.com");
  EXPECT_EQ(match->tag, 1);
  EXPECT_TRUE(set.contains_exact("example.com"));
  EXPECT_FALSE(set.contains_exact("www.example.com"));
}

TEST(DomainSet, SingleLabelEntriesActAsTlds) {
  const DomainSet set = make_set({{"tk", 0}});
  EXPECT_TRUE(set.find("free.tk"));
  EXPECT_TRUE(set.find("tk"));
  EXPECT_FALSE(set.find("tk.com"));
  EXPECT_FALSE(set.find("atk"));
}

TEST(DomainSet, EmptySetAndOddInputs) {
  const DomainSet empty;
  EXPECT_FALSE(empty.find("a.com"));
  const DomainSet set = make_set({{"a.com", 0}});
  EXPECT_FALSE(set.find(""));
  EXPECT_FALSE(set.find(std::string(300, 'a')));
  EXPECT_TRUE(set.find(".a.com"));  // not normalised, but still a label-boundary match
  EXPECT_FALSE(set.find(std::string(253, '.')));  // every byte a label start: no overflow
  EXPECT_TRUE(set.find(std::string(247, '.') + "a.com"));
}

// Compares against the obvious implementation over the whole OISD big list: every listed name,
// a subdomain of it, and random misses must give the same answer.
TEST(DomainSet, AgreesWithANaiveSuffixWalkOnTheOisdBigList) {
  const std::string path = test::shared_data("oisd/domainswild2_big.txt");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "missing " << path;
  const ParsedFeed feed = parse_feed("oisd", test::read_file(path));
  DomainSet::Builder builder;
  std::unordered_set<std::string> naive;
  for (std::size_t i = 0; i < feed.domain_count(); ++i) {
    builder.add(feed.domain(i), 0);
    naive.emplace(feed.domain(i));
  }
  const DomainSet set = std::move(builder).build();
  EXPECT_EQ(set.size(), naive.size());
  const auto naive_find = [&](std::string_view host) {
    for (std::size_t start = 0;;) {
      if (naive.count(std::string(host.substr(start)))) return true;
      const auto dot = host.find('.', start);
      if (dot == std::string_view::npos) return false;
      start = dot + 1;
    }
  };
  std::mt19937 rng(42);
  std::size_t hits = 0;
  for (std::size_t i = 0; i < feed.domain_count(); i += 7) {
    const std::string listed(feed.domain(i));
    ASSERT_TRUE(set.find(listed)) << listed;
    ASSERT_TRUE(set.find("sub." + listed)) << listed;
    std::string mutated = "q" + listed;  // usually a miss, sometimes listed too
    ASSERT_EQ(set.find(mutated).has_value(), naive_find(mutated)) << mutated;
    std::string random_host;
    for (int k = 0; k < 12; ++k) random_host.push_back(static_cast<char>('a' + rng() % 26));
    random_host += (rng() % 2) ? ".com" : ".net";
    const bool expected = naive_find(random_host);
    ASSERT_EQ(set.find(random_host).has_value(), expected) << random_host;
    hits += expected;
  }
  EXPECT_LT(hits, 10u);
}

}  // namespace
}  // namespace sallyport::blocklist

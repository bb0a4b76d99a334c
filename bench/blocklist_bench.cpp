// Blocklist benchmarks on the full OISD big list (../shared/data/oisd/domainswild2_big.txt):
//   BM_LoadOisdBig          read + parse + build a snapshot (target < 1 s)
//   BM_StoreRss             VmRSS / VmHWM of a BlocklistStore holding the list (target < 64 MB)
//   BM_Lookup_DomainSet     the feed matcher on a realistic mix (target >= 10 M lookups/s/core)
//   BM_Lookup_NaiveUnorderedSet  std::unordered_set<std::string> suffix walk, same mix
//   BM_CheckHost            the full check_host path (normalise, allow/deny, feeds, TLDs)
// Mix: 80 % misses on random plausible names (2-4 labels), 20 % hits on subdomains of listed
// names; a fixed pool of 65,536 names, generated once with a fixed seed.
#include "blocklist/policy.hpp"
#include "blocklist/store.hpp"
#include "common/log.hpp"

#include <benchmark/benchmark.h>

#include <fstream>
#include <random>
#include <sstream>
#include <unordered_set>

namespace sallyport::blocklist {
namespace {

const std::string kOisdPath = std::string(SALLYPORT_SHARED_DATA) + "/oisd/domainswild2_big.txt";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

long status_kib(const char* field) {  // "VmRSS:" / "VmHWM:" from /proc/self/status
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::string(field).size()));
  }
  return -1;
}

const ParsedFeed& oisd_feed() {
  static const ParsedFeed feed = parse_feed("oisd", read_file(kOisdPath), FeedFormat::domains);
  return feed;
}

std::vector<std::string> make_mix(const ParsedFeed& feed) {
  static const char* const kSyllables[] = {"ka", "lo", "mi", "net", "web", "api", "cdn", "shop",
                                           "data", "cloud", "zen", "tri", "po", "mar", "vel",
                                           "io", "sun", "dev", "app", "go", "ex", "ra", "tek"};
  static const char* const kTlds[] = {"com", "net", "org", "io", "de", "co.uk", "fr", "dev"};
  static const char* const kSubs[] = {"www", "cdn", "api", "static", "img", "m", "a.b"};
  std::mt19937_64 rng(20251124);
  std::vector<std::string> mix;
  mix.reserve(65536);
  while (mix.size() < 65536) {
    if (rng() % 5 == 0) {
      mix.push_back(std::string(kSubs[rng() % 7]) + "." +
                    std::string(feed.domain(rng() % feed.domain_count())));
      continue;
    }
    std::string host;
    const int labels = 1 + static_cast<int>(rng() % 3);  // + TLD = 2..4 labels
    for (int l = 0; l < labels; ++l) {
      const int parts = 1 + static_cast<int>(rng() % 3);
      for (int p = 0; p < parts; ++p) host += kSyllables[rng() % 23];
      host += '.';
    }
    host += kTlds[rng() % 8];
    mix.push_back(std::move(host));
  }
  return mix;
}

const std::vector<std::string>& mix() {
  static const std::vector<std::string> names = make_mix(oisd_feed());
  return names;
}

// Registered first so it runs before the other benchmarks have allocated anything; for a clean
// figure run it alone (bench/blocklist_run.sh does).
void BM_StoreRss(benchmark::State& state) {
  const long before = status_kib("VmRSS:");
  EgressPolicyOptions options;
  options.feeds = {FeedSource{"oisd", "", kOisdPath, "", FeedFormat::domains}};
  BlocklistStore store(options);
  for (auto _ : state) store.load();
  const long after = status_kib("VmRSS:");
  state.counters["rss_before_MiB"] = static_cast<double>(before) / 1024.0;
  state.counters["rss_after_MiB"] = static_cast<double>(after) / 1024.0;
  state.counters["peak_MiB"] = static_cast<double>(status_kib("VmHWM:")) / 1024.0;
  state.counters["snapshot_MiB"] =
      static_cast<double>(store.stats().snapshot_bytes) / (1024.0 * 1024.0);
  state.counters["domains"] = static_cast<double>(store.stats().total_domains);
}
BENCHMARK(BM_StoreRss)->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_LoadOisdBig(benchmark::State& state) {
  std::size_t domains = 0;
  for (auto _ : state) {
    std::vector<ParsedFeed> feeds;
    feeds.push_back(parse_feed("oisd", read_file(kOisdPath), FeedFormat::auto_detect));
    auto policy = build_blocklist_snapshot(EgressPolicyOptions{}, {&feeds[0]});
    domains = policy->domain_count();
    benchmark::DoNotOptimize(policy);
  }
  state.counters["domains"] = static_cast<double>(domains);
}
BENCHMARK(BM_LoadOisdBig)->Unit(benchmark::kMillisecond)->Iterations(5);

void BM_Lookup_DomainSet(benchmark::State& state) {
  std::vector<ParsedFeed> feeds;
  feeds.push_back(oisd_feed());
  const auto policy = build_blocklist_snapshot(EgressPolicyOptions{}, {&feeds[0]});
  const auto& names = mix();
  const std::size_t pool_mask = static_cast<std::size_t>(state.range(0)) - 1;
  std::size_t i = 0;
  std::size_t hits = 0;
  for (auto _ : state) {
    hits += policy->match_feeds(names[i++ & pool_mask]).has_value();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["hit_ratio"] = static_cast<double>(hits) / static_cast<double>(state.iterations());
}
// Arg = how many distinct names the lookups cycle through: 65536 is the cold, realistic case;
// 1024 shows the compute cost when the hot names' table lines stay cached.
BENCHMARK(BM_Lookup_DomainSet)->Arg(65536)->Arg(1024);

void BM_Lookup_NaiveUnorderedSet(benchmark::State& state) {
  const ParsedFeed& feed = oisd_feed();
  std::unordered_set<std::string> set;
  for (std::size_t k = 0; k < feed.domain_count(); ++k) set.emplace(feed.domain(k));
  const auto& names = mix();
  std::size_t i = 0;
  std::size_t hits = 0;
  for (auto _ : state) {
    const std::string& host = names[i++ & 65535];
    bool hit = false;
    for (std::size_t start = 0; !hit;) {  // exact name, then every parent suffix
      hit = set.count(host.substr(start)) != 0;
      const auto dot = host.find('.', start);
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    hits += hit;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["hit_ratio"] = static_cast<double>(hits) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Lookup_NaiveUnorderedSet);

void BM_CheckHost(benchmark::State& state) {
  std::vector<ParsedFeed> feeds;
  feeds.push_back(oisd_feed());
  EgressPolicyOptions options;
  options.allow = {"api.openai.com", "github.com"};
  options.deny = {"pastebin.com"};
  const auto policy = build_egress_policy(options, std::move(feeds));
  const auto& names = mix();
  std::size_t i = 0;
  for (auto _ : state) {
    auto check = policy->check_host(names[i++ & 65535]);
    benchmark::DoNotOptimize(check);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_CheckHost);

}  // namespace
}  // namespace sallyport::blocklist

int main(int argc, char** argv) {
  sallyport::log::configure(sallyport::log::Format::json, sallyport::log::Level::warn);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

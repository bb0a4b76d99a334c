#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <set>
#include <thread>

#include "governance/audit_chain.hpp"
#include "governance/audit_verify.hpp"
#include "governance/test/audit_test_util.hpp"

namespace sallyport::audit {
namespace {

using testing::TempDir;

std::shared_ptr<const identity::Identity> test_identity() {
  return std::make_shared<const identity::Identity>(identity::Identity::generate());
}

AuditEvent event(int n, const std::string& kind = "egress") {
  AuditEvent e;
  e.kind = kind;
  e.decision = n % 2 ? "deny" : "allow";
  e.reason = "blocklist:oisd";
  e.detail = {{"host", "h" + std::to_string(n) + ".example"}, {"n", n}};
  return e;
}

AuditOptions options_for(const TempDir& dir) {
  AuditOptions o;
  o.dir = dir.path();
  o.group_interval = std::chrono::milliseconds(1);
  return o;
}

VerifyResult verify(const std::filesystem::path& p, const identity::Identity& id) {
  VerifyOptions vo;
  vo.pubkey = id.public_key();
  return verify_log(p, vo);
}

std::string describe(const VerifyResult& r) {
  if (r.io_error) return *r.io_error;
  if (!r.bad) return "ok";
  return std::string(to_string(r.bad->reason)) + ": " + r.bad->message + " line " + std::to_string(r.bad->line);
}

TEST(AuditChain, AppendedRecordsVerifyWithCheckpoints) {
  TempDir dir;
  auto id = test_identity();
  auto o = options_for(dir);
  o.checkpoint_every = 10;
  auto chain = AuditChain::open(o, {"sb", "acme", "ns", "pod"}, id);
  for (int i = 0; i < 35; ++i) ASSERT_TRUE(chain->append(event(i)));
  ASSERT_TRUE(chain->flush());
  chain->close();
  const auto counters = chain->counters();
  EXPECT_EQ(counters.records_appended, 35u);
  EXPECT_EQ(counters.checkpoints, 5u);  // start + 3 periodic + shutdown
  EXPECT_GE(counters.fsyncs, 1u);
  EXPECT_EQ(counters.committed_seq, 40u);
  const auto r = verify(dir.path(), *id);
  EXPECT_TRUE(r.ok) << describe(r);
  EXPECT_EQ(r.records, 40u);
  EXPECT_EQ(r.checkpoints, 5u);
  EXPECT_EQ(r.key_id, id->key_id());
  const auto lines = testing::read_lines(list_segments(dir.path()).at(0));
  const auto first = nlohmann::json::parse(lines.at(1));
  EXPECT_EQ(first["seq"], 2);
  EXPECT_EQ(first["sandbox"], "sb");
  EXPECT_EQ(first["pod"], "pod");
  EXPECT_EQ(first["detail"]["host"], "h0.example");
  EXPECT_EQ(nlohmann::json::parse(lines.at(0))["prev"], std::string(kGenesisPrev));
}

TEST(AuditChain, PerRecordFsyncMode) {
  TempDir dir;
  auto id = test_identity();
  auto o = options_for(dir);
  o.fsync = FsyncMode::record;
  auto chain = AuditChain::open(o, {}, id);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(chain->append(event(i)));
  chain->close();
  EXPECT_GE(chain->counters().fsyncs, 21u);
  EXPECT_TRUE(verify(dir.path(), *id).ok);
}

TEST(AuditChain, RotationContinuesTheChainAcrossSegments) {
  TempDir dir;
  auto id = test_identity();
  auto o = options_for(dir);
  o.rotate_bytes = 4000;
  auto chain = AuditChain::open(o, {"sb", "t", "n", "p"}, id);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(chain->append(event(i)));
  chain->close();
  const auto segments = list_segments(dir.path());
  ASSERT_GE(segments.size(), 3u);
  EXPECT_EQ(chain->counters().rotations, segments.size() - 1);
  std::string tail_hash;
  for (std::size_t s = 0; s < segments.size(); ++s) {
    const auto lines = testing::read_lines(segments[s]);
    const auto first = nlohmann::json::parse(lines.front());
    const auto last = nlohmann::json::parse(lines.back());
    if (s > 0) {
      EXPECT_EQ(first["prev"], tail_hash) << segments[s];
    }
    EXPECT_EQ(segments[s].filename().string(), segment_name(first["seq"].get<std::uint64_t>()));
    EXPECT_EQ(last["kind"], "checkpoint");
    EXPECT_TRUE(last["detail"]["final"].get<bool>());
    tail_hash = last["hash"];
  }
  const auto r = verify(dir.path(), *id);
  EXPECT_TRUE(r.ok) << describe(r);
  EXPECT_EQ(r.files, segments.size());
}

TEST(AuditChain, RestartContinuesFromTheLastRecord) {
  TempDir dir;
  auto id = test_identity();
  for (int run = 0; run < 3; ++run) {
    auto chain = AuditChain::open(options_for(dir), {}, id);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(chain->append(event(i)));
  }
  EXPECT_EQ(list_segments(dir.path()).size(), 3u);
  const auto r = verify(dir.path(), *id);
  EXPECT_TRUE(r.ok) << describe(r);
  EXPECT_EQ(r.last_seq, 3u * 7u);
}

TEST(AuditChain, TornTailIsQuarantinedAndTheChainContinues) {
  TempDir dir;
  auto id = test_identity();
  {
    auto chain = AuditChain::open(options_for(dir), {}, id);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(chain->append(event(i)));
  }
  const auto segment = list_segments(dir.path()).back();
  const std::string good = testing::read_file(segment);
  const std::string torn = R"({"decision":"deny","detail":{"host":"x)";
  testing::write_file(segment, good + torn);
  EXPECT_EQ(verify(dir.path(), *id).bad->reason, BreakReason::truncated);

  auto chain = AuditChain::open(options_for(dir), {}, id);
  ASSERT_TRUE(chain->recovery());
  EXPECT_EQ(chain->recovery()->torn_bytes, torn.size());
  EXPECT_EQ(testing::read_file(chain->recovery()->torn_file), torn);
  EXPECT_EQ(testing::read_file(segment), good);
  ASSERT_TRUE(chain->append(event(9)));
  chain->close();
  const auto r = verify(dir.path(), *id);
  EXPECT_TRUE(r.ok) << describe(r);
  ASSERT_FALSE(r.notes.empty());
  // The start checkpoint of the new segment reports the recovery.
  const auto start = nlohmann::json::parse(testing::read_lines(list_segments(dir.path()).back()).front());
  EXPECT_EQ(start["detail"]["recovered"]["torn_bytes"], torn.size());
}

TEST(AuditChain, TornCompleteLineWithBadHashIsQuarantinedToo) {
  TempDir dir;
  auto id = test_identity();
  { auto chain = AuditChain::open(options_for(dir), {}, id); ASSERT_TRUE(chain->append(event(1))); }
  const auto segment = list_segments(dir.path()).back();
  auto lines = testing::read_lines(segment);
  lines.push_back(std::string(40, '\0'));  // zero-filled block after a crash
  testing::write_lines(segment, lines);
  auto chain = AuditChain::open(options_for(dir), {}, id);
  ASSERT_TRUE(chain->recovery());
  chain->close();
  EXPECT_TRUE(verify(dir.path(), *id).ok);
}

TEST(AuditChain, ConcurrentAppendersLoseNothing) {
  TempDir dir;
  auto id = test_identity();
  auto o = options_for(dir);
  o.checkpoint_every = 500;
  o.rotate_bytes = 256 * 1024;
  auto chain = AuditChain::open(o, {}, id);
  constexpr int kThreads = 8, kPerThread = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&chain, t] {
      for (int i = 0; i < kPerThread; ++i) {
        AuditEvent e = event(i);
        e.detail = {{"thread", t}, {"i", i}};
        while (!chain->append(e)) std::this_thread::yield();
      }
    });
  }
  for (auto& th : threads) th.join();
  chain->close();
  const auto r = verify(dir.path(), *id);
  ASSERT_TRUE(r.ok) << describe(r);
  std::set<std::pair<int, int>> seen;
  std::vector<int> last_i(kThreads, -1);
  for (const auto& seg : list_segments(dir.path())) {
    for (const auto& line : testing::read_lines(seg)) {
      const auto j = nlohmann::json::parse(line);
      if (j["kind"] == "checkpoint") continue;
      const int t = j["detail"]["thread"], i = j["detail"]["i"];
      EXPECT_TRUE(seen.insert({t, i}).second);
      EXPECT_GT(i, last_i[t]);  // per-thread order is kept
      last_i[t] = i;
    }
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST(AuditChain, DiskErrorTurnsUnhealthyAndRecovers) {
  TempDir dir;
  auto id = test_identity();
  auto o = options_for(dir);
  o.fsync = FsyncMode::record;
  auto chain = AuditChain::open(o, {}, id);
  ASSERT_TRUE(chain->append(event(1)));
  ASSERT_TRUE(chain->flush());
  ::signal(SIGXFSZ, SIG_IGN);
  rlimit saved{};
  ::getrlimit(RLIMIT_FSIZE, &saved);
  const auto size = std::filesystem::file_size(list_segments(dir.path()).back());
  rlimit small = saved;
  small.rlim_cur = size + 10;  // the next record does not fit: write() fails with EFBIG
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  chain->append(event(2));
  for (int i = 0; i < 500 && chain->healthy(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(chain->healthy());
  EXPECT_GE(chain->counters().errors, 1u);
  EXPECT_FALSE(chain->append(event(3)));  // fail closed while unhealthy
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &saved), 0);
  for (int i = 0; i < 500 && !chain->healthy(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(chain->healthy());
  ASSERT_TRUE(chain->append(event(4)));
  chain->close();
  const auto r = verify(dir.path(), *id);
  EXPECT_TRUE(r.ok) << describe(r);
  EXPECT_EQ(chain->counters().records_appended, 3u);  // events 1, 2 (retried), 4
}

}  // namespace
}  // namespace sallyport::audit

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <thread>

#include "governance/audit_chain.hpp"
#include "governance/siem_sink.hpp"
#include "governance/test/audit_test_util.hpp"

namespace sallyport::siem {
namespace {

using audit::testing::TempDir;

// Writes `events` records (plus checkpoints) into dir with small segments.
void write_log(const std::filesystem::path& dir, int events,
               const std::shared_ptr<const identity::Identity>& id) {
  audit::AuditOptions o;
  o.dir = dir;
  o.rotate_bytes = 3000;
  auto chain = audit::AuditChain::open(o, {"sb", "t", "n", "p"}, id);
  for (int i = 0; i < events; ++i) {
    audit::AuditEvent e;
    e.kind = "egress";
    e.decision = i % 3 ? "allow" : "deny";
    e.detail = {{"i", i}};
    ASSERT_TRUE(chain->append(e));
  }
}

std::map<std::uint64_t, std::string> committed_lines(const std::filesystem::path& dir) {
  std::map<std::uint64_t, std::string> out;
  for (const auto& seg : audit::list_segments(dir))
    for (const auto& line : audit::testing::read_lines(seg))
      out[nlohmann::json::parse(line)["seq"].get<std::uint64_t>()] = line;
  return out;
}

// Records what it receives; fails every `fail_every`-th call.
class FakeTransport final : public SiemTransport {
 public:
  explicit FakeTransport(int fail_every) : fail_every_(fail_every) {}
  bool deliver(const std::vector<SiemRecord>& records, std::string& error) override {
    std::lock_guard lock(mutex);
    if (fail_every_ != 0 && ++calls_ % fail_every_ == 0) {
      error = "injected failure";
      return false;
    }
    for (const auto& r : records) received[r.seq] = r.line;
    return true;
  }
  std::mutex mutex;
  std::map<std::uint64_t, std::string> received;

 private:
  int fail_every_;
  int calls_ = 0;
};

SinkRuntime runtime_for(const TempDir& log, const TempDir& state, std::size_t batch) {
  SinkRuntime rt;
  rt.audit_dir = log.path();
  rt.cursor_file = state.path() / "siem-test.cursor";
  rt.max_batch = batch;
  rt.poll_interval = std::chrono::milliseconds(10);
  rt.backoff_initial = std::chrono::milliseconds(1);
  rt.backoff_max = std::chrono::milliseconds(5);
  return rt;
}

template <typename Pred>
bool wait_until(Pred pred) {
  for (int i = 0; i < 1000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

TEST(SiemRead, ReadsAcrossRotatedSegmentsInOrder) {
  TempDir log;
  auto id = std::make_shared<const identity::Identity>(identity::Identity::generate());
  write_log(log.path(), 60, id);
  ASSERT_GE(audit::list_segments(log.path()).size(), 3u);
  const auto all = committed_lines(log.path());
  Cursor cursor;
  std::vector<std::uint64_t> seqs;
  for (int guard = 0; guard < 100; ++guard) {
    auto batch = read_after(log.path(), cursor, 7, UINT64_MAX);
    for (const auto& r : batch.records) {
      seqs.push_back(r.seq);
      EXPECT_EQ(r.line, all.at(r.seq));
    }
    if (batch.records.empty()) break;
    cursor = batch.end;
  }
  ASSERT_EQ(seqs.size(), all.size());
  for (std::size_t k = 0; k < seqs.size(); ++k) EXPECT_EQ(seqs[k], k + 1);
  EXPECT_EQ(newest_seq_on_disk(log.path()), all.rbegin()->first);
  // max_seq holds back records that are not committed yet.
  EXPECT_EQ(read_after(log.path(), Cursor{}, 100, 3).records.size(), 3u);
}

TEST(SiemRead, CursorRoundTripsAndRejectsGarbage) {
  TempDir state;
  const auto path = state.path() / "c.cursor";
  std::string error;
  ASSERT_TRUE(store_cursor(path, Cursor{"audit-00000000000000000001.jsonl", 123, 9}, error));
  const auto loaded = load_cursor(path, error);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->offset, 123u);
  EXPECT_EQ(loaded->seq, 9u);
  audit::testing::write_file(path, "{\"segment\":1}");
  EXPECT_FALSE(load_cursor(path, error));
  EXPECT_NE(error.find("expected"), std::string::npos);
}

TEST(SiemSink, DeliversEverythingThroughFailuresAndResumesAfterRestart) {
  TempDir log, state;
  auto id = std::make_shared<const identity::Identity>(identity::Identity::generate());
  write_log(log.path(), 50, id);
  const auto all = committed_lines(log.path());
  auto* fake = new FakeTransport(3);
  std::string error;
  auto sink = SiemSink::create("test", std::unique_ptr<SiemTransport>(fake), runtime_for(log, state, 4), error);
  ASSERT_TRUE(sink) << error;
  sink->start();
  ASSERT_TRUE(wait_until([&] { return sink->stats().cursor_seq == all.rbegin()->first; }));
  EXPECT_EQ(sink->lag_records(), 0u);
  EXPECT_GT(sink->stats().failures, 0u);
  sink->stop();
  {
    std::lock_guard lock(fake->mutex);
    EXPECT_EQ(fake->received, all);
  }
  // More records while the sink is down; a new sink resumes after the cursor.
  write_log(log.path(), 10, id);
  const auto after = committed_lines(log.path());
  auto* second = new FakeTransport(0);
  auto resumed = SiemSink::create("test", std::unique_ptr<SiemTransport>(second), runtime_for(log, state, 100), error);
  ASSERT_TRUE(resumed) << error;
  resumed->start();
  ASSERT_TRUE(wait_until([&] { return resumed->stats().cursor_seq == after.rbegin()->first; }));
  resumed->stop();
  std::lock_guard lock(second->mutex);
  ASSERT_FALSE(second->received.empty());
  EXPECT_EQ(second->received.begin()->first, all.rbegin()->first + 1);  // nothing re-sent
  EXPECT_EQ(second->received.size(), after.size() - all.size());
}

TEST(SiemSink, DeadSiemShowsLagAndNeverBlocksTheWriter) {
  TempDir log, state;
  auto id = std::make_shared<const identity::Identity>(identity::Identity::generate());
  write_log(log.path(), 20, id);
  std::string error;
  auto sink = SiemSink::create("dead", std::make_unique<FakeTransport>(1), runtime_for(log, state, 5), error);
  ASSERT_TRUE(sink);
  sink->start();
  const auto total = committed_lines(log.path()).size();
  ASSERT_TRUE(wait_until([&] { return sink->stats().failures >= 3; }));
  EXPECT_EQ(sink->lag_records(), total);
  write_log(log.path(), 20, id);  // appends still work while the SIEM is dead
  sink->stop();
  EXPECT_EQ(sink->stats().cursor_seq, 0u);
}

TEST(SiemSyslog, MessageIsRfc5424WithSeqAndHash) {
  SiemRecord r{R"({"decision":"deny","seq":7})", 7, std::string(64, 'a'), "egress", "deny",
               "2026-11-24T18:05:49.123456Z"};
  EXPECT_EQ(format_syslog_message(r, "host one"),
            "<108>1 2026-11-24T18:05:49.123456Z host_one sallyport - audit [sallyport@32473 seq=\"7\" hash=\"" +
                std::string(64, 'a') + "\" kind=\"egress\"] " + r.line);
}

TEST(SiemSyslog, OctetCountedFramesOverTcp) {
  const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(server, 4), 0);
  socklen_t len = sizeof addr;
  ::getsockname(server, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string received;
  std::thread reader([&] {
    const int c = ::accept(server, nullptr, nullptr);
    char buf[4096];
    for (ssize_t n; (n = ::read(c, buf, sizeof buf)) > 0;) received.append(buf, static_cast<std::size_t>(n));
    ::close(c);
  });
  SyslogSinkOptions o;
  o.name = "s";
  o.address = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  o.hostname = "h";
  auto transport = make_syslog_transport(o, std::chrono::milliseconds(2000));
  ASSERT_TRUE(transport);
  std::vector<SiemRecord> records = {{"{\"a\":\"\xC3\xA9\"}", 1, "x", "k", "allow", "t"},
                                     {"{\"b\":2}", 2, "y", "k", "deny", "t"}};
  std::string error;
  ASSERT_TRUE(transport->deliver(records, error)) << error;
  transport.reset();  // closes the connection
  reader.join();
  ::close(server);
  // Parse the octet-counted frames back.
  std::vector<std::string> frames;
  for (std::size_t pos = 0; pos < received.size();) {
    const auto sp = received.find(' ', pos);
    const std::size_t n = std::stoul(received.substr(pos, sp - pos));
    frames.push_back(received.substr(sp + 1, n));
    pos = sp + 1 + n;
  }
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0], format_syslog_message(records[0], "h"));
  EXPECT_EQ(frames[1].substr(frames[1].size() - records[1].line.size()), records[1].line);
}

TEST(SiemConfig, RejectsBadAddressesAndHeaderInjection) {
  std::string error;
  TempDir log, state;
  SinkRuntime rt = runtime_for(log, state, 10);
  SyslogSinkOptions bad_syslog;
  bad_syslog.name = "s";
  bad_syslog.address = "no-port";
  EXPECT_FALSE(SiemSink::create(bad_syslog, rt, error));
  EXPECT_NE(error.find("host:port"), std::string::npos);
  HttpSinkOptions bad_http;
  bad_http.name = "h";
  bad_http.url = "ftp://x";
  EXPECT_FALSE(SiemSink::create(bad_http, rt, error));
  bad_http.url = "http://127.0.0.1:1/x";
  bad_http.authorization = "Splunk a\r\nX-Evil: 1";
  EXPECT_FALSE(SiemSink::create(bad_http, rt, error));
  bad_http.authorization = "Splunk abc";
  EXPECT_TRUE(SiemSink::create(bad_http, rt, error));
}

}  // namespace
}  // namespace sallyport::siem

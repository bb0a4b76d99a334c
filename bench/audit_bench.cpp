// Audit log throughput: appends/s with group commit and with per-record fdatasync (end to end:
// each iteration appends a block and waits until it is durable), record encoding alone, and
// verification records/s over a pre-built log.
//   Targets: >= 100 k appends/s with group commit, >= 1 M records/s verified.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "governance/audit_chain.hpp"
#include "governance/audit_verify.hpp"

namespace {

using namespace sallyport;

struct BenchDir {
  BenchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "sallyport-audit-bench-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~BenchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::filesystem::path path;
};

audit::AuditEvent sample_event(std::int64_t i) {
  audit::AuditEvent e;
  e.kind = "egress";
  e.decision = "deny";
  e.reason = "blocklist:oisd";
  e.detail = {{"host", "malware.example"}, {"port", 443}, {"rule", "oisd"}, {"i", i}};
  e.task = "task-42";
  return e;
}

std::shared_ptr<const identity::Identity> bench_identity() {
  static auto id = std::make_shared<const identity::Identity>(identity::Identity::generate());
  return id;
}

void run_appends(benchmark::State& state, audit::FsyncMode mode) {
  BenchDir dir;
  audit::AuditOptions o;
  o.dir = dir.path;
  o.fsync = mode;
  o.group_interval = std::chrono::milliseconds(5);
  auto chain = audit::AuditChain::open(o, {"sandbox", "tenant", "ns", "pod"}, bench_identity());
  const std::int64_t block = state.range(0);
  std::int64_t n = 0;
  for (auto _ : state) {
    for (std::int64_t k = 0; k < block; ++k) {
      if (!chain->append(sample_event(n++))) state.SkipWithError("append refused");
    }
    if (!chain->flush(std::chrono::seconds(60))) state.SkipWithError("flush timed out");
  }
  state.SetItemsProcessed(n);
  const auto c = chain->counters();
  state.counters["fsyncs"] = static_cast<double>(c.fsyncs);
  state.counters["bytes_per_record"] = c.records_appended ? static_cast<double>(c.bytes_written) / static_cast<double>(c.records_appended) : 0;
}

void BM_AuditAppendGroupCommit(benchmark::State& state) { run_appends(state, audit::FsyncMode::group); }
BENCHMARK(BM_AuditAppendGroupCommit)->Arg(20000)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_AuditAppendFsyncPerRecord(benchmark::State& state) { run_appends(state, audit::FsyncMode::record); }
BENCHMARK(BM_AuditAppendFsyncPerRecord)->Arg(200)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_AuditEncodeRecord(benchmark::State& state) {
  const auto e = sample_event(1);
  const audit::Attribution who{"sandbox", "tenant", "ns", "pod"};
  audit::HashBytes prev{}, hash{};
  for (auto _ : state) {
    benchmark::DoNotOptimize(audit::encode_record(e, who, 12345, prev, hash));
    prev = hash;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AuditEncodeRecord);

void BM_AuditVerify(benchmark::State& state) {
  static BenchDir dir;
  static std::uint64_t records = 0;
  if (records == 0) {
    audit::AuditOptions o;
    o.dir = dir.path;
    o.rotate_bytes = 64ull << 20;
    auto chain = audit::AuditChain::open(o, {"sandbox", "tenant", "ns", "pod"}, bench_identity());
    for (std::int64_t i = 0; i < state.range(0); ++i) {
      while (!chain->append(sample_event(i))) {
      }
    }
    chain->close();
    records = chain->counters().records_appended + chain->counters().checkpoints;
  }
  audit::VerifyOptions vo;
  vo.pubkey = bench_identity()->public_key();
  for (auto _ : state) {
    const auto r = audit::verify_log(dir.path, vo);
    if (!r.ok) state.SkipWithError("verify failed");
    benchmark::DoNotOptimize(r.records);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(records) * state.iterations());
  state.counters["records"] = static_cast<double>(records);
}
BENCHMARK(BM_AuditVerify)->Arg(1000000)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();

// Test driver for the audit integration tests (tests/audit/*.sh). Subcommands:
//   write DIR STATE_DIR [--count N | --forever] [--fsync record|group] [--rotate-bytes B]
//       appends records; prints "committed <seq>" after each durable flush
//   verify PATH [--pubkey K] [--json] [--allow-open-tail]      → run_audit_verify exit code
//   tail PATH [N]
//   ship DIR --cursor FILE (--syslog ADDR [--tls CA] | --http URL [--auth V] [--batch N])
//        [--timeout-s S]   delivers until the sink's cursor reaches the newest seq on disk
#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "governance/audit_chain.hpp"
#include "governance/audit_cli.hpp"
#include "governance/siem_sink.hpp"

namespace {

using namespace sallyport;

std::map<std::string, std::string> flags(int argc, char** argv, int from, std::vector<std::string>& positional) {
  std::map<std::string, std::string> out;
  for (int i = from; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) == 0) {
      const bool boolean = a == "--forever" || a == "--json" || a == "--allow-open-tail";
      out[a] = boolean || i + 1 >= argc ? "1" : argv[++i];
    } else {
      positional.push_back(a);
    }
  }
  return out;
}

int write_cmd(const std::vector<std::string>& pos, std::map<std::string, std::string>& f) {
  if (pos.size() < 2) return 2;
  auto id = std::make_shared<const identity::Identity>(identity::Identity::load_or_create(pos[1]));
  audit::AuditOptions o;
  o.dir = pos[0];
  o.fsync = audit::parse_fsync_mode(f.count("--fsync") ? f["--fsync"] : "group").value_or(audit::FsyncMode::group);
  o.checkpoint_every = 100;
  if (f.count("--rotate-bytes")) o.rotate_bytes = std::stoull(f["--rotate-bytes"]);
  auto chain = audit::AuditChain::open(o, {"sandbox-1", "acme", "agents", "pod-7"}, id);
  if (chain->recovery())
    std::cout << "recovered torn_bytes=" << chain->recovery()->torn_bytes << " torn_file="
              << chain->recovery()->torn_file.string() << std::endl;
  const bool forever = f.count("--forever") != 0;
  const long count = f.count("--count") ? std::stol(f["--count"]) : 100;
  for (long i = 0; forever || i < count; ++i) {
    audit::AuditEvent e;
    e.kind = i % 5 == 0 ? "model" : "egress";
    e.decision = i % 3 == 0 ? "deny" : "allow";
    e.reason = i % 3 == 0 ? "blocklist:oisd" : "default";
    e.detail = {{"i", i}, {"host", "h" + std::to_string(i) + ".example"}, {"note", "caf\xC3\xA9 \"q\""}};
    if (i % 7 == 0) e.task = "task-" + std::to_string(i / 7);
    if (!chain->append(std::move(e))) {
      std::cerr << "append refused at " << i << std::endl;
      return 1;
    }
    if (i % 50 == 49) {
      if (chain->flush()) std::cout << "committed " << chain->committed_seq() << std::endl;
    }
  }
  chain->close();
  std::cout << "committed " << chain->committed_seq() << std::endl;
  return 0;
}

int ship_cmd(const std::vector<std::string>& pos, std::map<std::string, std::string>& f) {
  if (pos.empty() || !f.count("--cursor")) return 2;
  siem::SinkRuntime rt;
  rt.audit_dir = pos[0];
  rt.cursor_file = f["--cursor"];
  rt.poll_interval = std::chrono::milliseconds(20);
  rt.backoff_initial = std::chrono::milliseconds(20);
  rt.backoff_max = std::chrono::milliseconds(200);
  rt.io_timeout = std::chrono::milliseconds(2000);
  siem::SinkOptions options;
  if (f.count("--syslog")) {
    siem::SyslogSinkOptions s;
    s.name = "syslog";
    s.address = f["--syslog"];
    s.hostname = "sandbox-1";
    if (f.count("--tls")) {
      s.transport = siem::SyslogSinkOptions::Transport::tls;
      s.ca_file = f["--tls"];
    }
    options = s;
  } else {
    siem::HttpSinkOptions h;
    h.name = "http";
    h.url = f["--http"];
    h.authorization = f.count("--auth") ? f["--auth"] : "";
    h.batch = f.count("--batch") ? std::stoul(f["--batch"]) : 100;
    options = h;
  }
  std::string error;
  auto sink = siem::SiemSink::create(options, rt, error);
  if (!sink) {
    std::cerr << error << std::endl;
    return 2;
  }
  const std::uint64_t target = siem::newest_seq_on_disk(pos[0]);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::seconds(f.count("--timeout-s") ? std::stol(f["--timeout-s"]) : 60);
  sink->start();
  while (sink->stats().cursor_seq < target && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  sink->stop();
  const auto stats = sink->stats();
  std::cout << "delivered " << stats.delivered << " cursor_seq " << stats.cursor_seq << " target "
            << target << " failures " << stats.failures << " lag " << stats.lag_records << std::endl;
  return stats.cursor_seq >= target ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: audit_writer_driver write|verify|tail|ship …\n";
    return 2;
  }
  const std::string cmd = argv[1];
  std::vector<std::string> pos;
  auto f = flags(argc, argv, 2, pos);
  try {
    if (cmd == "write") return write_cmd(pos, f);
    if (cmd == "verify" && !pos.empty()) {
      std::optional<std::string> key;
      if (f.count("--pubkey")) key = f["--pubkey"];
      return audit::run_audit_verify(pos[0], key, f.count("--json") != 0, f.count("--allow-open-tail") != 0, std::cout);
    }
    if (cmd == "tail" && !pos.empty())
      return audit::run_audit_tail(pos[0], false, pos.size() > 1 ? std::stoul(pos[1]) : 10, std::cout);
    if (cmd == "ship") return ship_cmd(pos, f);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return 2;
  }
  std::cerr << "unknown command\n";
  return 2;
}

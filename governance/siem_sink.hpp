#pragma once
// SIEM export: independent readers of the committed audit log that ship records to a SIEM.
//
// Each sink runs its own thread. It reads complete lines from the audit segments starting at a
// persistent cursor file ({"segment","offset","seq"}: the position after the last record the SIEM
// acknowledged), delivers a batch, and only then advances and fsyncs the cursor — so delivery is
// at-least-once and resumes after a restart. Failed deliveries are retried with exponential
// back-off (with jitter) without advancing. The backlog is the audit log on disk: memory stays
// bounded by max_batch whatever the lag; lag_records() feeds sallyport_siem_lag_records{sink}.
// A slow or dead SIEM never blocks AuditChain::append (it does not know the sinks exist).
//
// Transports:
//  - syslog: RFC 5424 over TCP or TLS with octet-counting framing (RFC 6587):
//      "<LEN> <PRI>1 <ts> <host> sallyport - audit [sallyport@32473 seq=".." hash=".." kind=".."] <record JSON>"
//    PRI = facility 13 (log audit) * 8 + severity (4 warning for decision "deny", else 6 info);
//    MSG is the committed line byte for byte (without its '\n').
//  - http: POST of a JSON array of the committed records (each element byte-identical to the
//    line), Content-Type application/json, `Authorization: <authorization>` when set, headers
//    X-Sallyport-Sink / X-Sallyport-First-Seq / X-Sallyport-Last-Seq; 2xx = delivered. Receivers
//    dedupe by seq (at-least-once). gzip is not implemented (see the sink options).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace sallyport::siem {

struct SyslogSinkOptions {
  std::string name;
  std::string address;                     // "host:port"
  enum class Transport : unsigned char { tcp, tls } transport = Transport::tcp;
  std::optional<std::string> ca_file;      // TLS: trust anchor (default: system store)
  std::optional<std::string> server_name;  // TLS: name/IP to verify (default: host of address)
  std::string hostname;                    // HOSTNAME field (default: gethostname())
};

struct HttpSinkOptions {
  std::string name;
  std::string url;                         // http://host:port/path or https://…
  std::string authorization;               // full header value, e.g. "Splunk <token>"; never logged
  std::size_t batch = 100;                 // records per POST
  std::optional<std::string> ca_file;      // https: trust anchor
};

using SinkOptions = std::variant<SyslogSinkOptions, HttpSinkOptions>;

// Settings shared by all sink kinds.
struct SinkRuntime {
  std::filesystem::path audit_dir;
  std::filesystem::path cursor_file;       // e.g. <state_dir>/siem-<name>.cursor
  std::size_t max_batch = 500;             // upper bound of records per delivery (memory bound)
  std::chrono::milliseconds poll_interval{200};
  std::chrono::milliseconds io_timeout{5000};
  std::chrono::milliseconds backoff_initial{200};
  std::chrono::milliseconds backoff_max{30000};
  // When set, records above this seq are not shipped yet (AuditChain::committed_seq).
  std::function<std::uint64_t()> committed_seq;
};

struct Cursor {
  std::string segment;        // file name of the segment, empty = start of the log
  std::uint64_t offset = 0;   // byte offset after the last delivered line
  std::uint64_t seq = 0;      // seq of the last delivered record
};
std::optional<Cursor> load_cursor(const std::filesystem::path& path, std::string& error);
bool store_cursor(const std::filesystem::path& path, const Cursor& cursor, std::string& error);

// One committed record as read from a segment.
struct SiemRecord {
  std::string line;  // without '\n'
  std::uint64_t seq = 0;
  std::string hash, kind, decision, ts;
};

// Reads complete, well-formed lines after a cursor (moving across rotated segments).
struct ReadBatch {
  std::vector<SiemRecord> records;
  Cursor end;  // cursor after the last returned record (or past skipped lines)
};
ReadBatch read_after(const std::filesystem::path& dir, const Cursor& cursor, std::size_t max_records,
                     std::uint64_t max_seq);
// seq of the newest complete record on disk (0 when none).
std::uint64_t newest_seq_on_disk(const std::filesystem::path& dir);

// What delivers one batch. Implementations: syslog (TCP/TLS) and HTTP.
class SiemTransport {
 public:
  virtual ~SiemTransport() = default;
  virtual bool deliver(const std::vector<SiemRecord>& records, std::string& error) = 0;
  virtual void reset() {}  // drop the connection after a failure
};
std::unique_ptr<SiemTransport> make_syslog_transport(const SyslogSinkOptions& options,
                                                     std::chrono::milliseconds io_timeout);
std::unique_ptr<SiemTransport> make_http_transport(const HttpSinkOptions& options,
                                                   std::chrono::milliseconds io_timeout);
// RFC 5424 message (without framing) for one record.
std::string format_syslog_message(const SiemRecord& record, const std::string& hostname);

struct SinkStats {
  std::uint64_t delivered = 0;     // records acknowledged (duplicates after a retry included)
  std::uint64_t batches = 0;
  std::uint64_t failures = 0;      // failed delivery attempts
  std::uint64_t cursor_seq = 0;
  std::uint64_t lag_records = 0;
  bool connected_ok = false;       // the last attempt succeeded
};

class SiemSink {
 public:
  // Validates options (address/url syntax) and loads the cursor. nullptr + error on failure.
  static std::unique_ptr<SiemSink> create(const SinkOptions& options, SinkRuntime runtime,
                                          std::string& error);
  // Same with a custom transport (tests, other SIEM kinds).
  static std::unique_ptr<SiemSink> create(std::string name, std::unique_ptr<SiemTransport> transport,
                                          SinkRuntime runtime, std::string& error);
  ~SiemSink();  // stop()
  SiemSink(const SiemSink&) = delete;
  SiemSink& operator=(const SiemSink&) = delete;

  void start();
  void stop();  // waits for the current attempt to end (bounded by io_timeout)
  const std::string& name() const noexcept { return name_; }
  std::uint64_t lag_records() const noexcept { return lag_.load(); }
  SinkStats stats() const;

 private:
  SiemSink(std::string name, std::unique_ptr<SiemTransport> transport, SinkRuntime runtime,
           Cursor cursor);
  void run();
  bool sleep_for(std::chrono::milliseconds duration);  // false when stopping
  void update_lag();

  const std::string name_;
  std::unique_ptr<SiemTransport> transport_;
  const SinkRuntime runtime_;
  Cursor cursor_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
  std::atomic<std::uint64_t> lag_{0}, delivered_{0}, batches_{0}, failures_{0}, cursor_seq_{0};
  std::atomic<bool> connected_ok_{false};
};

}  // namespace sallyport::siem

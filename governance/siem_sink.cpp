#include "governance/siem_sink.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "governance/audit_record.hpp"
#include "governance/audit_segment.hpp"

namespace sallyport::siem {
namespace {

constexpr std::string_view kComponent = "siem";
constexpr std::size_t kReadChunk = 1 << 20;

// Reads [offset, offset+size) of a file; shorter at EOF.
bool pread_range(const std::filesystem::path& path, std::uint64_t offset, std::size_t size,
                 std::string& out, std::uint64_t& file_size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st{};
  ::fstat(fd, &st);
  file_size = static_cast<std::uint64_t>(st.st_size);
  out.clear();
  if (offset < file_size) {
    out.resize(std::min<std::uint64_t>(size, file_size - offset));
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::pread(fd, out.data() + done, out.size() - done,
                                static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    out.resize(done);
  }
  ::close(fd);
  return true;
}

}  // namespace

std::optional<Cursor> load_cursor(const std::filesystem::path& path, std::string& error) {
  std::string data;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Cursor{};
  if (!audit::read_whole_file(path, data, error)) return std::nullopt;
  const auto j = nlohmann::json::parse(data, nullptr, false);
  if (!j.is_object() || !j.contains("segment") || !j["segment"].is_string() ||
      !j.contains("offset") || !j["offset"].is_number_unsigned() || !j.contains("seq") ||
      !j["seq"].is_number_unsigned()) {
    error = path.string() + ": expected {\"segment\": string, \"offset\": uint, \"seq\": uint}";
    return std::nullopt;
  }
  return Cursor{j["segment"].get<std::string>(), j["offset"].get<std::uint64_t>(),
                j["seq"].get<std::uint64_t>()};
}

bool store_cursor(const std::filesystem::path& path, const Cursor& cursor, std::string& error) {
  const std::string data =
      nlohmann::json{{"segment", cursor.segment}, {"offset", cursor.offset}, {"seq", cursor.seq}}.dump() + "\n";
  const std::string tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = tmp + ": " + std::strerror(errno);
    return false;
  }
  const bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
                  ::fdatasync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    error = path.string() + ": cannot store cursor: " + std::strerror(ok ? errno : err);
    return false;
  }
  return true;
}

ReadBatch read_after(const std::filesystem::path& dir, const Cursor& cursor, std::size_t max_records,
                     std::uint64_t max_seq) {
  ReadBatch batch;
  batch.end = cursor;
  const auto segments = audit::list_segments(dir);
  if (segments.empty()) return batch;
  std::size_t idx = 0;
  std::uint64_t offset = 0;
  if (!cursor.segment.empty()) {
    const auto it = std::find_if(segments.begin(), segments.end(), [&](const auto& p) {
      return p.filename().string() >= cursor.segment;
    });
    if (it == segments.end()) return batch;
    idx = static_cast<std::size_t>(it - segments.begin());
    if (it->filename().string() == cursor.segment) offset = cursor.offset;
  }
  std::string chunk, error;
  while (batch.records.size() < max_records) {
    const auto& path = segments[idx];
    std::uint64_t file_size = 0;
    std::size_t want = kReadChunk;
    do {  // grow the window until it holds at least one complete line (or the file ends)
      if (!pread_range(path, offset, want, chunk, file_size)) return batch;
      want *= 4;
    } while (chunk.find('\n') == std::string::npos && offset + chunk.size() < file_size);
    std::size_t pos = 0;
    for (std::size_t end; batch.records.size() < max_records &&
                          (end = chunk.find('\n', pos)) != std::string::npos;
         pos = end + 1) {
      const std::string_view line(chunk.data() + pos, end - pos);
      const auto rec = audit::scan_record(line, error);
      if (rec && rec->seq > max_seq) return batch;
      batch.end = Cursor{path.filename().string(), offset + end + 1, batch.end.seq};
      if (!rec) {
        log::warn(kComponent, "skipping an unreadable audit line",
                  {{"segment", path.string()}, {"offset", offset + pos}, {"error", error}});
        continue;
      }
      if (rec->seq <= cursor.seq) continue;  // already delivered
      batch.end.seq = rec->seq;
      batch.records.push_back(SiemRecord{std::string(line), rec->seq, std::string(rec->hash),
                                         std::string(rec->kind), std::string(rec->decision),
                                         std::string(rec->ts)});  // raw (still JSON-escaped)
    }
    offset += pos;
    const bool drained = chunk.find('\n', pos) == std::string::npos && offset + (chunk.size() - pos) >= file_size;
    if (!drained) continue;                      // more complete lines in this segment
    if (idx + 1 >= segments.size()) break;       // newest segment: wait for the writer
    ++idx;                                       // older segments are complete: move on
    offset = 0;
    batch.end = Cursor{segments[idx].filename().string(), 0, batch.end.seq};
  }
  return batch;
}

std::uint64_t newest_seq_on_disk(const std::filesystem::path& dir) {
  const auto segments = audit::list_segments(dir);
  std::string chunk, error;
  for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
    std::uint64_t size = 0;
    if (!pread_range(*it, 0, 0, chunk, size)) continue;
    const std::uint64_t start = size > 65536 ? size - 65536 : 0;
    if (!pread_range(*it, start, 65536, chunk, size)) continue;
    const auto last_nl = chunk.rfind('\n');
    if (last_nl == std::string::npos) continue;
    const auto prev_nl = last_nl == 0 ? std::string::npos : chunk.rfind('\n', last_nl - 1);
    const std::size_t begin = prev_nl == std::string::npos ? 0 : prev_nl + 1;
    if (const auto rec = audit::scan_record(std::string_view(chunk).substr(begin, last_nl - begin), error))
      return rec->seq;
  }
  return 0;
}

std::unique_ptr<SiemSink> SiemSink::create(const SinkOptions& options, SinkRuntime runtime,
                                           std::string& error) {
  if (const auto* syslog = std::get_if<SyslogSinkOptions>(&options)) {
    auto transport = make_syslog_transport(*syslog, runtime.io_timeout);
    if (!transport) {
      error = "sink \"" + syslog->name + "\": address must be host:port, got \"" + syslog->address + "\"";
      return nullptr;
    }
    return create(syslog->name, std::move(transport), std::move(runtime), error);
  }
  const auto& http = std::get<HttpSinkOptions>(options);
  auto transport = make_http_transport(http, runtime.io_timeout);
  if (!transport) {
    error = "sink \"" + http.name + "\": url must be http://host[:port]/path or https://…, got \"" + http.url + "\"";
    return nullptr;
  }
  runtime.max_batch = std::max<std::size_t>(1, std::min(runtime.max_batch, http.batch));
  return create(http.name, std::move(transport), std::move(runtime), error);
}

std::unique_ptr<SiemSink> SiemSink::create(std::string name, std::unique_ptr<SiemTransport> transport,
                                           SinkRuntime runtime, std::string& error) {
  auto cursor = load_cursor(runtime.cursor_file, error);
  if (!cursor) return nullptr;
  return std::unique_ptr<SiemSink>(
      new SiemSink(std::move(name), std::move(transport), std::move(runtime), *cursor));
}

SiemSink::SiemSink(std::string name, std::unique_ptr<SiemTransport> transport, SinkRuntime runtime,
                   Cursor cursor)
    : name_(std::move(name)), transport_(std::move(transport)), runtime_(std::move(runtime)),
      cursor_(std::move(cursor)) {
  cursor_seq_ = cursor_.seq;
}

SiemSink::~SiemSink() { stop(); }

void SiemSink::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void SiemSink::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

SinkStats SiemSink::stats() const {
  SinkStats s;
  s.delivered = delivered_.load();
  s.batches = batches_.load();
  s.failures = failures_.load();
  s.cursor_seq = cursor_seq_.load();
  s.lag_records = lag_.load();
  s.connected_ok = connected_ok_.load();
  return s;
}

bool SiemSink::sleep_for(std::chrono::milliseconds duration) {
  std::unique_lock lock(mutex_);
  return !cv_.wait_for(lock, duration, [this] { return stopping_; });
}

void SiemSink::update_lag() {
  const std::uint64_t latest = runtime_.committed_seq ? runtime_.committed_seq()
                                                      : newest_seq_on_disk(runtime_.audit_dir);
  lag_ = latest > cursor_.seq ? latest - cursor_.seq : 0;
}

void SiemSink::run() {
  std::minstd_rand jitter(std::random_device{}());
  std::string error;
  update_lag();
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    const std::uint64_t max_seq = runtime_.committed_seq ? runtime_.committed_seq() : UINT64_MAX;
    ReadBatch batch = read_after(runtime_.audit_dir, cursor_, runtime_.max_batch, max_seq);
    if (batch.records.empty()) {
      if (batch.end.segment != cursor_.segment || batch.end.offset != cursor_.offset) {
        cursor_ = batch.end;
        if (!store_cursor(runtime_.cursor_file, cursor_, error))
          log::error(kComponent, "cannot persist SIEM cursor", {{"sink", name_}, {"error", error}});
      }
      update_lag();
      if (!sleep_for(runtime_.poll_interval)) return;
      continue;
    }
    auto backoff = runtime_.backoff_initial;
    while (!transport_->deliver(batch.records, error)) {
      failures_.fetch_add(1);
      if (connected_ok_.exchange(false) || failures_.load() % 50 == 1)
        log::warn(kComponent, "SIEM delivery failed; retrying",
                  {{"sink", name_}, {"first_seq", batch.records.front().seq}, {"error", error}});
      transport_->reset();
      update_lag();
      const auto extra = std::chrono::milliseconds(jitter() % (backoff.count() / 4 + 1));
      if (!sleep_for(backoff + extra)) return;  // stopping: the cursor stays before this batch
      backoff = std::min(backoff * 2, runtime_.backoff_max);
    }
    if (!connected_ok_.exchange(true))
      log::info(kComponent, "SIEM delivery working", {{"sink", name_}, {"seq", batch.end.seq}});
    cursor_ = batch.end;
    if (!store_cursor(runtime_.cursor_file, cursor_, error))
      log::error(kComponent, "cannot persist SIEM cursor", {{"sink", name_}, {"error", error}});
    delivered_.fetch_add(batch.records.size());
    batches_.fetch_add(1);
    cursor_seq_ = cursor_.seq;
    update_lag();
  }
}

}  // namespace sallyport::siem

// RFC 5424 syslog transport over TCP/TLS with octet-counting framing (RFC 6587 §3.4.1).
#include <unistd.h>

#include "governance/siem_net.hpp"
#include "governance/siem_sink.hpp"

namespace sallyport::siem {
namespace {

constexpr int kFacilityLogAudit = 13;
constexpr std::string_view kSdId = "sallyport@32473";  // 32473: example enterprise number (RFC 5612)

// PRINTUSASCII (33..126), at most `max` characters; "-" when empty (the NILVALUE).
std::string header_token(std::string_view value, std::size_t max) {
  std::string out;
  for (char c : value) {
    if (out.size() == max) break;
    out.push_back(c > 32 && c < 127 ? c : '_');
  }
  return out.empty() ? "-" : out;
}

// SD-PARAM value: escape '"', '\' and ']' (RFC 5424 §6.3.3).
std::string sd_value(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '"' || c == '\\' || c == ']') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string local_hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "-";
  return buf;
}

class SyslogTransport final : public SiemTransport {
 public:
  SyslogTransport(SyslogSinkOptions options, Endpoint endpoint, std::chrono::milliseconds timeout)
      : options_(std::move(options)), endpoint_(std::move(endpoint)), timeout_(timeout) {
    if (options_.hostname.empty()) options_.hostname = local_hostname();
    if (options_.transport == SyslogSinkOptions::Transport::tls)
      tls_ = TlsSettings{options_.ca_file, options_.server_name};
  }

  bool deliver(const std::vector<SiemRecord>& records, std::string& error) override {
    if (!stream_) {
      stream_ = NetStream::connect(endpoint_, tls_, timeout_, error);
      if (!stream_) return false;
    }
    std::string frames;
    for (const auto& record : records) {
      const std::string message = format_syslog_message(record, options_.hostname);
      frames += std::to_string(message.size());
      frames.push_back(' ');
      frames += message;
    }
    if (!stream_->write_all(frames, error)) {
      stream_.reset();
      return false;
    }
    return true;
  }

  void reset() override { stream_.reset(); }

 private:
  SyslogSinkOptions options_;
  Endpoint endpoint_;
  std::chrono::milliseconds timeout_;
  std::optional<TlsSettings> tls_;
  std::unique_ptr<NetStream> stream_;
};

}  // namespace

std::string format_syslog_message(const SiemRecord& record, const std::string& hostname) {
  const int severity = record.decision == "deny" ? 4 : 6;
  std::string out = "<" + std::to_string(kFacilityLogAudit * 8 + severity) + ">1 ";
  out += header_token(record.ts, 32);
  out.push_back(' ');
  out += header_token(hostname, 255);
  out += " sallyport - audit [";
  out += kSdId;
  out += " seq=\"" + std::to_string(record.seq) + "\" hash=\"" + sd_value(record.hash) +
         "\" kind=\"" + sd_value(record.kind) + "\"] ";
  out += record.line;
  return out;
}

std::unique_ptr<SiemTransport> make_syslog_transport(const SyslogSinkOptions& options,
                                                     std::chrono::milliseconds io_timeout) {
  std::string error;
  auto endpoint = parse_host_port(options.address, error);
  if (!endpoint) return nullptr;
  return std::make_unique<SyslogTransport>(options, *endpoint, io_timeout);
}

}  // namespace sallyport::siem

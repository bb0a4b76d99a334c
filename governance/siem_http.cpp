// HTTP(S) JSON batch transport: one POST per batch on a fresh connection (Connection: close).
#include "governance/siem_net.hpp"
#include "governance/siem_sink.hpp"

namespace sallyport::siem {
namespace {

struct HttpTarget {
  bool tls = false;
  Endpoint endpoint;
  std::string host_header;
  std::string path;
};

std::optional<HttpTarget> parse_url(std::string_view url) {
  HttpTarget t;
  if (url.rfind("http://", 0) == 0) {
    url.remove_prefix(7);
  } else if (url.rfind("https://", 0) == 0) {
    t.tls = true;
    url.remove_prefix(8);
  } else {
    return std::nullopt;
  }
  const auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  t.path = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  for (char c : t.path)
    if (static_cast<unsigned char>(c) <= 32 || c == 127) return std::nullopt;
  t.host_header = std::string(authority);
  const bool bracketed = authority.front() == '[';
  const auto close = authority.find(']');
  const bool has_port = bracketed ? (close != std::string_view::npos && close + 1 < authority.size())
                                  : authority.find(':') != std::string_view::npos;
  std::string with_port(authority);
  if (!has_port) with_port += t.tls ? ":443" : ":80";
  std::string error;
  auto ep = parse_host_port(with_port, error);
  if (!ep) return std::nullopt;
  t.endpoint = *ep;
  return t;
}

class HttpTransport final : public SiemTransport {
 public:
  HttpTransport(HttpSinkOptions options, HttpTarget target, std::chrono::milliseconds timeout)
      : options_(std::move(options)), target_(std::move(target)), timeout_(timeout) {}

  bool deliver(const std::vector<SiemRecord>& records, std::string& error) override {
    std::optional<TlsSettings> tls;
    if (target_.tls) tls = TlsSettings{options_.ca_file, std::nullopt};
    auto stream = NetStream::connect(target_.endpoint, tls, timeout_, error);
    if (!stream) return false;
    std::string body = "[";
    for (const auto& record : records) {
      if (body.size() > 1) body.push_back(',');
      body += record.line;
    }
    body.push_back(']');
    std::string request = "POST " + target_.path + " HTTP/1.1\r\nHost: " + target_.host_header +
                          "\r\nContent-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\nConnection: close\r\n" +
                          "User-Agent: sallyport-siem\r\nX-Sallyport-Sink: " + options_.name +
                          "\r\nX-Sallyport-First-Seq: " + std::to_string(records.front().seq) +
                          "\r\nX-Sallyport-Last-Seq: " + std::to_string(records.back().seq) + "\r\n";
    if (!options_.authorization.empty()) request += "Authorization: " + options_.authorization + "\r\n";
    request += "\r\n";
    if (!stream->write_all(request, error) || !stream->write_all(body, error)) return false;
    return read_status(*stream, error);
  }

 private:
  // Reads the status line; 2xx is success. The body is not needed.
  static bool read_status(NetStream& stream, std::string& error) {
    std::string head;
    char buf[4096];
    while (head.find("\r\n") == std::string::npos && head.size() < 8192) {
      const long n = stream.read_some(buf, sizeof buf, error);
      if (n <= 0) {
        if (n == 0) error = "connection closed before the HTTP status line";
        return false;
      }
      head.append(buf, static_cast<std::size_t>(n));
    }
    const std::string status_line = head.substr(0, head.find("\r\n"));
    if (status_line.size() < 12 || status_line.rfind("HTTP/1.", 0) != 0) {
      error = "not an HTTP response";
      return false;
    }
    if (status_line[9] != '2') {
      error = "HTTP status " + status_line.substr(9, 3);
      return false;
    }
    return true;
  }

  HttpSinkOptions options_;
  HttpTarget target_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

std::unique_ptr<SiemTransport> make_http_transport(const HttpSinkOptions& options,
                                                   std::chrono::milliseconds io_timeout) {
  auto target = parse_url(options.url);
  if (!target) return nullptr;
  for (const std::string* header : {&options.name, &options.authorization})
    if (header->find_first_of("\r\n") != std::string::npos) return nullptr;  // header injection
  return std::make_unique<HttpTransport>(options, std::move(*target), io_timeout);
}

}  // namespace sallyport::siem

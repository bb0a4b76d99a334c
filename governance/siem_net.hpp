#pragma once
// Blocking client connections for the SIEM sinks: TCP (POSIX sockets) with optional TLS
// (OpenSSL, server certificate verified against ca_file or the system store, hostname or IP
// checked). Used from the sinks' own threads only, so blocking with timeouts is fine.
#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sallyport::siem {

struct Endpoint {
  std::string host;  // name or IP literal (without brackets)
  std::uint16_t port = 0;
};
// "host:port" or "[v6]:port". nullopt + error on bad input.
std::optional<Endpoint> parse_host_port(std::string_view address, std::string& error);

struct TlsSettings {
  std::optional<std::string> ca_file;      // default: system trust store
  std::optional<std::string> server_name;  // default: the endpoint host
};

class NetStream {
 public:
  // Connects (and handshakes when tls is set). nullptr + error on failure.
  static std::unique_ptr<NetStream> connect(const Endpoint& endpoint,
                                            const std::optional<TlsSettings>& tls,
                                            std::chrono::milliseconds timeout, std::string& error);
  ~NetStream();
  NetStream(const NetStream&) = delete;
  NetStream& operator=(const NetStream&) = delete;

  bool write_all(std::string_view data, std::string& error);
  // Reads up to `size` bytes; 0 on orderly close; -1 on error/timeout.
  long read_some(char* buffer, std::size_t size, std::string& error);

 private:
  NetStream() = default;
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

}  // namespace sallyport::siem

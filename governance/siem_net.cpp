#include "governance/siem_net.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sallyport::siem {
namespace {

std::string ssl_error_text() {
  const unsigned long code = ERR_get_error();
  if (code == 0) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

bool is_ip_literal(const std::string& host) {
  in6_addr v6{};
  in_addr v4{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 || inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

int connect_with_timeout(const Endpoint& ep, std::chrono::milliseconds timeout, std::string& error) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(ep.port);
  if (const int rc = getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    error = "resolve " + ep.host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
      int so_error = 0;
      socklen_t len = sizeof so_error;
      if (rc == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0 && so_error == 0) {
        rc = 0;
      } else {
        errno = rc == 0 ? ETIMEDOUT : (so_error ? so_error : errno);
        rc = -1;
      }
    }
    if (rc == 0) break;
    error = "connect " + ep.host + ":" + port + ": " + std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) return -1;
  const int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  timeval tv{};
  tv.tv_sec = static_cast<long>(timeout.count() / 1000);
  tv.tv_usec = static_cast<long>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

}  // namespace

std::optional<Endpoint> parse_host_port(std::string_view address, std::string& error) {
  Endpoint ep;
  std::string_view port;
  if (!address.empty() && address.front() == '[') {
    const auto close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      error = "address \"" + std::string(address) + "\": expected [v6]:port";
      return std::nullopt;
    }
    ep.host = std::string(address.substr(1, close - 1));
    port = address.substr(close + 2);
  } else {
    const auto colon = address.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      error = "address \"" + std::string(address) + "\": expected host:port";
      return std::nullopt;
    }
    ep.host = std::string(address.substr(0, colon));
    port = address.substr(colon + 1);
  }
  unsigned value = 0;
  if (port.empty() || port.size() > 5) value = 0;
  for (char c : port) value = (c >= '0' && c <= '9') ? value * 10 + static_cast<unsigned>(c - '0') : 70000;
  if (value == 0 || value > 65535) {
    error = "address \"" + std::string(address) + "\": port must be 1-65535";
    return std::nullopt;
  }
  ep.port = static_cast<std::uint16_t>(value);
  return ep;
}

std::unique_ptr<NetStream> NetStream::connect(const Endpoint& endpoint,
                                              const std::optional<TlsSettings>& tls,
                                              std::chrono::milliseconds timeout, std::string& error) {
  std::unique_ptr<NetStream> stream(new NetStream());
  stream->fd_ = connect_with_timeout(endpoint, timeout, error);
  if (stream->fd_ < 0) return nullptr;
  if (!tls) return stream;
  stream->ctx_ = SSL_CTX_new(TLS_client_method());
  if (stream->ctx_ == nullptr) {
    error = "TLS context: " + ssl_error_text();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(stream->ctx_, TLS1_2_VERSION);
  SSL_CTX_set_verify(stream->ctx_, SSL_VERIFY_PEER, nullptr);
  const int loaded = tls->ca_file
                         ? SSL_CTX_load_verify_locations(stream->ctx_, tls->ca_file->c_str(), nullptr)
                         : SSL_CTX_set_default_verify_paths(stream->ctx_);
  if (loaded != 1) {
    error = "TLS CA " + tls->ca_file.value_or("(system)") + ": " + ssl_error_text();
    return nullptr;
  }
  stream->ssl_ = SSL_new(stream->ctx_);
  const std::string name = tls->server_name.value_or(endpoint.host);
  if (is_ip_literal(name)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(stream->ssl_), name.c_str());
  } else {
    SSL_set_tlsext_host_name(stream->ssl_, name.c_str());
    SSL_set1_host(stream->ssl_, name.c_str());
  }
  SSL_set_fd(stream->ssl_, stream->fd_);
  if (SSL_connect(stream->ssl_) != 1) {
    const long verify = SSL_get_verify_result(stream->ssl_);
    error = "TLS handshake with " + name + ": " +
            (verify != X509_V_OK ? std::string(X509_verify_cert_error_string(verify)) : ssl_error_text());
    return nullptr;
  }
  return stream;
}

NetStream::~NetStream() {
  if (ssl_ != nullptr) {
    SSL_shutdown(ssl_);
    SSL_free(ssl_);
  }
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
}

bool NetStream::write_all(std::string_view data, std::string& error) {
  while (!data.empty()) {
    long n;
    if (ssl_ != nullptr) {
      n = SSL_write(ssl_, data.data(), static_cast<int>(std::min<std::size_t>(data.size(), 1 << 20)));
      if (n <= 0) {
        error = "TLS write: " + ssl_error_text();
        return false;
      }
    } else {
      n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error = std::string("send: ") + std::strerror(errno);
        return false;
      }
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

long NetStream::read_some(char* buffer, std::size_t size, std::string& error) {
  if (ssl_ != nullptr) {
    const int n = SSL_read(ssl_, buffer, static_cast<int>(std::min<std::size_t>(size, 1 << 20)));
    if (n > 0) return n;
    const int code = SSL_get_error(ssl_, n);
    if (code == SSL_ERROR_ZERO_RETURN) return 0;
    error = "TLS read: " + ssl_error_text();
    return -1;
  }
  while (true) {
    const ssize_t n = ::recv(fd_, buffer, size, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) error = std::string("recv: ") + std::strerror(errno);
    return n;
  }
}

}  // namespace sallyport::siem

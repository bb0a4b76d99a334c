#include "router/test/proxy_test_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <future>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // GCC 12 false positive on coroutines
#endif

namespace sallyport::router::test {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// ---- FakeEgressPolicy -------------------------------------------------------------------

namespace {

blocklist::IpAddress v4_address(std::uint32_t host_order) {
  blocklist::IpAddress out;
  out.is_v4 = true;
  out.bytes[10] = out.bytes[11] = 0xff;
  out.bytes[12] = static_cast<std::uint8_t>(host_order >> 24);
  out.bytes[13] = static_cast<std::uint8_t>(host_order >> 16);
  out.bytes[14] = static_cast<std::uint8_t>(host_order >> 8);
  out.bytes[15] = static_cast<std::uint8_t>(host_order);
  return out;
}

std::optional<blocklist::IpAddress> parse_literal(std::string host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (auto percent = host.find('%'); percent != std::string::npos) host.resize(percent);
  in_addr v4{};
  if (host.find_first_not_of("0123456789abcdefxABCDEFX.") == std::string::npos &&
      inet_aton(host.c_str(), &v4) != 0)
    return v4_address(ntohl(v4.s_addr));
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    blocklist::IpAddress out;
    std::memcpy(out.bytes.data(), v6.s6_addr, 16);
    bool mapped = std::all_of(out.bytes.begin(), out.bytes.begin() + 10, [](auto b) { return b == 0; }) &&
                  out.bytes[10] == 0xff && out.bytes[11] == 0xff;
    out.is_v4 = mapped;
    return out;
  }
  return std::nullopt;
}

std::optional<std::uint32_t> as_v4(const blocklist::IpAddress& a) {
  bool mapped = std::all_of(a.bytes.begin(), a.bytes.begin() + 10, [](auto b) { return b == 0; }) &&
                a.bytes[10] == 0xff && a.bytes[11] == 0xff;
  if (!mapped) return std::nullopt;
  return (std::uint32_t{a.bytes[12]} << 24) | (std::uint32_t{a.bytes[13]} << 16) |
         (std::uint32_t{a.bytes[14]} << 8) | a.bytes[15];
}

bool in_v4_cidr(std::uint32_t address, const std::string& cidr) {
  auto slash = cidr.find('/');
  in_addr base{};
  if (slash == std::string::npos || inet_aton(cidr.substr(0, slash).c_str(), &base) == 0) return false;
  int bits = std::stoi(cidr.substr(slash + 1));
  std::uint32_t mask = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
  return (address & mask) == (ntohl(base.s_addr) & mask);
}

}  // namespace

blocklist::HostCheck FakeEgressPolicy::check_host(std::string_view raw) const {
  std::string host(raw);
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!host.empty() && host.back() == '.') host.pop_back();
  if (host.empty() || host.find_first_of(" \t\r\n") != std::string::npos)
    return {Decision::deny("host:invalid"), host, std::nullopt};
  if (auto literal = parse_literal(host)) {
    auto decision = check_address(*literal);
    if (decision.reason == "ip:metadata") return {decision, host, literal};
    if (decision.allowed() && decision.reason == "allowlist") return {decision, host, literal};
    return {Decision::deny("ip:literal", "bare-ip", host), host, literal};
  }
  for (const auto& domain : blocked) {
    if (host == domain || (host.size() > domain.size() && host.ends_with("." + domain)))
      return {Decision::deny("blocklist:test", domain), host, std::nullopt};
  }
  return {Decision::allow("default"), host, std::nullopt};
}

Decision FakeEgressPolicy::check_address(const blocklist::IpAddress& address) const {
  auto v4 = as_v4(address);
  if (!v4) {
    static const std::array<std::uint8_t, 16> loopback{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (address.bytes == loopback) return Decision::deny("ip:loopback", "::1/128");
    if (address.bytes[0] == 0xfe && (address.bytes[1] & 0xc0) == 0x80) return Decision::deny("ip:link-local", "fe80::/10");
    return Decision::allow("default");
  }
  if (*v4 == 0xA9FEA9FE) return Decision::deny("ip:metadata", "169.254.169.254/32");
  for (const auto& cidr : allow_cidrs)
    if (in_v4_cidr(*v4, cidr)) return Decision::allow("allowlist", cidr);
  if (in_v4_cidr(*v4, "127.0.0.0/8")) return Decision::deny("ip:loopback", "127.0.0.0/8");
  for (const char* cidr : {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"})
    if (in_v4_cidr(*v4, cidr)) return Decision::deny("ip:private", cidr);
  if (in_v4_cidr(*v4, "169.254.0.0/16")) return Decision::deny("ip:link-local", "169.254.0.0/16");
  if (in_v4_cidr(*v4, "0.0.0.0/8")) return Decision::deny("ip:unspecified", "0.0.0.0/8");
  return Decision::allow("default");
}

// ---- processes, CA, DNS -------------------------------------------------------------------

std::filesystem::path make_temp_dir(const std::string& tag) {
  std::string pattern = (std::filesystem::temp_directory_path() / ("sallyport-" + tag + "-XXXXXX")).string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

namespace {
void run_or_throw(const std::string& command) {
  if (std::system(command.c_str()) != 0) throw std::runtime_error("command failed: " + command);
}
}  // namespace

TestCa TestCa::create(const std::vector<std::string>& names) {
  TestCa ca;
  ca.dir = make_temp_dir("ca");
  ca.ca_pem = ca.dir / "ca.pem";
  ca.leaf_pem = ca.dir / "leaf.pem";
  ca.leaf_key = ca.dir / "leaf.key";
  std::string san = "subjectAltName=";
  for (std::size_t i = 0; i < names.size(); ++i) san += (i ? ",DNS:" : "DNS:") + names[i];
  std::ofstream(ca.dir / "ext.cnf") << san << "\n";
  auto d = ca.dir.string();
  run_or_throw("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
               "-subj /CN=sallyport-test-ca -keyout " + d + "/ca.key -out " + d + "/ca.pem 2>/dev/null");
  run_or_throw("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=" +
               names.front() + " -keyout " + d + "/leaf.key -out " + d + "/leaf.csr 2>/dev/null");
  run_or_throw("openssl x509 -req -in " + d + "/leaf.csr -CA " + d + "/ca.pem -CAkey " + d +
               "/ca.key -CAcreateserial -days 2 -extfile " + d + "/ext.cnf -out " + d +
               "/leaf.pem 2>/dev/null");
  return ca;
}

Subprocess::Subprocess(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ == 0) {
    dup2(pipe_fds[1], 1);
    close(pipe_fds[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  char c;
  while (read(pipe_fds[0], &c, 1) == 1 && c != '\n') first_line_ += c;
  close(pipe_fds[0]);
}

Subprocess::~Subprocess() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
}

DnsTestServer::DnsTestServer(const std::map<std::string, std::vector<std::string>>& names) {
  std::vector<std::string> argv{"/usr/bin/python3", std::string(SALLYPORT_PROXY_TEST_DIR) + "/proxy_dns_server.py"};
  for (const auto& [name, addresses] : names) {
    std::string spec = name + "=";
    for (std::size_t i = 0; i < addresses.size(); ++i) spec += (i ? "," : "") + addresses[i];
    argv.push_back(spec);
  }
  process_ = std::make_unique<Subprocess>(argv);
  port_ = static_cast<unsigned>(std::stoul(process_->first_line()));
}

// ---- upstream servers ---------------------------------------------------------------------

struct UpstreamServersImpl {
  static asio::awaitable<void> http_session(UpstreamServers* self, tcp::socket socket) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      auto [ec, n] = co_await http::async_read(socket, buffer, request, use_tuple);
      if (ec) co_return;
      std::ostringstream head;
      head << request.method_string() << " " << request.target() << "\r\n";
      for (const auto& field : request) head << field.name_string() << ": " << field.value() << "\r\n";
      {
        std::lock_guard lock(self->mutex_);
        self->requests_.push_back(head.str());
      }
      http::response<http::string_body> response{http::status::ok, 11};
      if (request.target().starts_with("/redirect")) {
        response.result(http::status::found);
        response.set(http::field::location, "http://169.254.169.254/latest/meta-data/");
      }
      response.body() = "hello from http " + std::string(request.target()) + "\n";
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      auto [wec, written] = co_await http::async_write(socket, response, use_tuple);
      if (wec || !request.keep_alive()) co_return;
    }
  }

  static asio::awaitable<void> tls_session(UpstreamServers* self, tcp::socket socket) {
    asio::ssl::stream<tcp::socket> stream(std::move(socket), self->tls_);
    auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_tuple);
    if (hec) co_return;
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    auto [ec, n] = co_await http::async_read(stream, buffer, request, use_tuple);
    if (ec) co_return;
    http::response<http::string_body> response{http::status::ok, 11};
    response.body() = "hello from tls\n";
    response.keep_alive(false);
    response.prepare_payload();
    co_await http::async_write(stream, response, use_tuple);
    co_await stream.async_shutdown(use_tuple);
  }

  static asio::awaitable<void> echo_session(tcp::socket socket) {
    std::array<char, 4096> data;
    for (;;) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(data), use_tuple);
      if (ec) co_return;
      auto [wec, w] = co_await asio::async_write(socket, asio::buffer(data.data(), n), use_tuple);
      if (wec) co_return;
    }
  }

  enum class Kind { http, tls, echo, trap };
  static asio::awaitable<void> accept_loop(UpstreamServers* self, tcp::acceptor acceptor, Kind kind) {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec) co_return;
      if (kind == Kind::trap) {
        ++self->trap_accepts_;
        continue;
      }
      ++self->accepts_;
      auto ex = acceptor.get_executor();
      if (kind == Kind::http) asio::co_spawn(ex, http_session(self, std::move(socket)), asio::detached);
      if (kind == Kind::tls) asio::co_spawn(ex, tls_session(self, std::move(socket)), asio::detached);
      if (kind == Kind::echo) asio::co_spawn(ex, echo_session(std::move(socket)), asio::detached);
    }
  }

  static std::uint16_t listen(UpstreamServers* self, const std::string& address, std::uint16_t port, Kind kind) {
    tcp::acceptor acceptor(self->ioc_, tcp::endpoint(asio::ip::make_address(address), port));
    auto bound = acceptor.local_endpoint().port();
    asio::co_spawn(self->ioc_, accept_loop(self, std::move(acceptor), kind), asio::detached);
    return bound;
  }
};

UpstreamServers::UpstreamServers(const std::string& address, const TestCa& ca) {
  tls_.use_certificate_chain_file(ca.leaf_pem.string());
  tls_.use_private_key_file(ca.leaf_key.string(), asio::ssl::context::pem);
  using Impl = UpstreamServersImpl;
  http_port_ = Impl::listen(this, address, 0, Impl::Kind::http);
  tls_port_ = Impl::listen(this, address, 0, Impl::Kind::tls);
  echo_port_ = Impl::listen(this, address, 0, Impl::Kind::echo);
  threads_.emplace_back([this] { ioc_.run(); });
}

std::uint16_t UpstreamServers::add_trap(const std::string& address, std::uint16_t port) {
  std::uint16_t bound = 0;
  std::promise<void> done;
  asio::post(ioc_, [&] {
    bound = UpstreamServersImpl::listen(this, address, port, UpstreamServersImpl::Kind::trap);
    done.set_value();
  });
  done.get_future().wait();
  return bound;
}

UpstreamServers::~UpstreamServers() {
  ioc_.stop();
  for (auto& t : threads_) t.join();
}

std::vector<std::string> UpstreamServers::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

// ---- proxy harness ------------------------------------------------------------------------

ProxyHarness::ProxyHarness(ProxyOptions options, std::shared_ptr<const blocklist::EgressPolicy> policy) {
  options.listen = "127.0.0.1:0";
  proxy_ = std::make_unique<ForwardProxy>(
      ioc_, std::move(options), [policy] { return policy; }, registry_,
      [this](const EgressEvent& event) {
        std::lock_guard lock(mutex_);
        events_.push_back(event);
      });
  if (auto ec = proxy_->start()) throw std::runtime_error("proxy start: " + ec.message());
  for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
}

ProxyHarness::~ProxyHarness() {
  proxy_->stop();
  proxy_->close_all();
  for (int i = 0; i < 200 && proxy_->active_connections() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ioc_.stop();
  for (auto& t : threads_) t.join();
  proxy_.reset();
}

std::vector<EgressEvent> ProxyHarness::events() const {
  std::lock_guard lock(mutex_);
  return events_;
}

bool ProxyHarness::wait_for_events(std::size_t count) const {
  for (int i = 0; i < 1000; ++i) {
    if (events().size() >= count) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

namespace {
const prometheus::MetricFamily* find_family(const std::vector<prometheus::MetricFamily>& families,
                                            const std::string& name) {
  for (const auto& family : families)
    if (family.name == name) return &family;
  return nullptr;
}
bool labels_match(const prometheus::ClientMetric& metric, const std::map<std::string, std::string>& labels) {
  for (const auto& [key, value] : labels) {
    auto it = std::find_if(metric.label.begin(), metric.label.end(),
                           [&](const auto& l) { return l.name == key && l.value == value; });
    if (it == metric.label.end()) return false;
  }
  return true;
}
}  // namespace

double ProxyHarness::counter(const std::string& name, const std::map<std::string, std::string>& labels) const {
  auto families = registry_.Collect();
  const auto* family = find_family(families, name);
  double total = 0;
  if (family)
    for (const auto& metric : family->metric)
      if (labels_match(metric, labels)) total += metric.counter.value;
  return total;
}

double ProxyHarness::gauge(const std::string& name) const {
  auto families = registry_.Collect();
  const auto* family = find_family(families, name);
  return family && !family->metric.empty() ? family->metric.front().gauge.value : -1;
}

std::uint64_t ProxyHarness::histogram_count(const std::string& name) const {
  auto families = registry_.Collect();
  const auto* family = find_family(families, name);
  return family && !family->metric.empty() ? family->metric.front().histogram.sample_count : 0;
}

// ---- raw client, curl, ClientHello --------------------------------------------------------

RawClient::RawClient(std::uint16_t port, const char* address) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{10, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, address, &sa.sin_addr);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
}

RawClient::~RawClient() {
  if (fd_ >= 0) close(fd_);
}

bool RawClient::send(std::string_view data) {
  while (!data.empty()) {
    auto n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string RawClient::read_head() {
  for (;;) {
    if (auto end = pending_.find("\r\n\r\n"); end != std::string::npos) {
      auto head = pending_.substr(0, end + 4);
      pending_.erase(0, end + 4);
      return head;
    }
    char chunk[4096];
    auto n = recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return {};
    pending_.append(chunk, static_cast<std::size_t>(n));
  }
}

std::string RawClient::read_exact(std::size_t count) {
  while (pending_.size() < count) {
    char chunk[4096];
    auto n = recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    pending_.append(chunk, static_cast<std::size_t>(n));
  }
  auto out = pending_.substr(0, std::min(count, pending_.size()));
  pending_.erase(0, out.size());
  return out;
}

std::string RawClient::read_until_close() {
  for (;;) {
    char chunk[4096];
    auto n = recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    pending_.append(chunk, static_cast<std::size_t>(n));
  }
  return std::exchange(pending_, {});
}

bool RawClient::closed_by_peer() {
  char c;
  auto n = recv(fd_, &c, 1, 0);
  if (n == 0) return true;
  if (n < 0) return errno == ECONNRESET;
  pending_.push_back(c);
  return false;
}

std::string header_value(const std::string& head, const std::string& name) {
  std::istringstream lines(head);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto key = line.substr(0, colon);
    if (strcasecmp(key.c_str(), name.c_str()) != 0) continue;
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    return value;
  }
  return {};
}

int status_code(const std::string& head) {
  if (head.size() < 12) return 0;
  return std::atoi(head.c_str() + 9);
}

CurlResult run_curl(const std::vector<std::string>& args) {
  auto dir = make_temp_dir("curl");
  std::string command = "curl -sS --max-time 20 -D " + (dir / "headers").string() + " -o " +
                        (dir / "body").string() + " -w '%{http_code} %{http_connect}'";
  for (const auto& a : args) command += " '" + a + "'";
  command += " 2>" + (dir / "stderr").string();
  CurlResult result;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    if (std::fscanf(pipe, "%d %d", &result.http_code, &result.connect_code) != 2) result.http_code = -1;
    pclose(pipe);
  }
  auto slurp = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  result.headers = slurp(dir / "headers");
  result.body = slurp(dir / "body");
  result.stderr_text = slurp(dir / "stderr");
  std::filesystem::remove_all(dir);
  return result;
}

std::string client_hello(const std::optional<std::string>& sni) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, rbio, wbio);
  if (sni) SSL_set_tlsext_host_name(ssl, sni->c_str());
  SSL_connect(ssl);  // WANT_READ: the ClientHello is now in wbio
  std::string out;
  char chunk[4096];
  int n;
  while ((n = BIO_read(wbio, chunk, sizeof chunk)) > 0) out.append(chunk, static_cast<std::size_t>(n));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return out;
}

ProxyOptions test_options(const UpstreamServers& servers) {
  ProxyOptions options;
  options.connect_ports = {servers.tls_port(), servers.echo_port(), servers.http_port()};
  options.tls_ports = {servers.tls_port()};
  options.http_ports = {servers.http_port()};
  options.limits.header_timeout = std::chrono::milliseconds(1500);
  options.limits.dns_timeout = std::chrono::milliseconds(2000);
  options.limits.connect_timeout = std::chrono::milliseconds(2000);
  options.limits.idle_timeout = std::chrono::milliseconds(10000);
  return options;
}

}  // namespace sallyport::router::test

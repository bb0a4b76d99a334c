// The probe operations. Each opens its own socket (RAII), uses non-blocking I/O bounded by the
// probe timeout, and turns the outcome into a ProbeResult via classify_probe().
#include "bpf/probe.hpp"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "bpf/capabilities.hpp"
#include "bpf/pinned.hpp"

namespace sallyport::bpf {
namespace {

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = 0;
};

// "1.2.3.4", "::ffff:1.2.3.4" or "fd00::1" plus a port; v6 forms produce AF_INET6 endpoints.
std::optional<Endpoint> make_endpoint(const std::string& host, std::uint16_t port) {
  Endpoint ep;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ep.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ep.addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    ep.len = sizeof(sockaddr_in);
    ep.family = AF_INET;
    return ep;
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    ep.len = sizeof(sockaddr_in6);
    ep.family = AF_INET6;
    return ep;
  }
  return std::nullopt;
}

// "host:port" or "[v6]:port".
std::optional<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 >= text.size()) return std::nullopt;
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(text.substr(colon + 1));
  } catch (...) {
    return std::nullopt;
  }
  if (port <= 0 || port > 65535) return std::nullopt;
  return std::pair{host, static_cast<std::uint16_t>(port)};
}

std::string show(const std::string& host, std::uint16_t port) {
  return host.find(':') != std::string::npos ? "[" + host + "]:" + std::to_string(port)
                                             : host + ":" + std::to_string(port);
}

// Waits for `events` on fd; returns 0 when ready, ETIMEDOUT, or an errno.
int wait_for(int fd, short events, std::chrono::milliseconds timeout) {
  pollfd p{fd, events, 0};
  const int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (n == 0) return ETIMEDOUT;
  if (n < 0) return errno;
  return 0;
}

// Non-blocking connect bounded by the timeout; returns 0 or the errno.
int timed_connect(const Endpoint& ep, int type, std::chrono::milliseconds timeout) {
  UniqueFd fd(::socket(ep.family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno;
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&ep.addr), ep.len) == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  if (const int w = wait_for(fd.get(), POLLOUT, timeout); w != 0) return w;
  int so_error = 0;
  socklen_t len = sizeof so_error;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) return errno;
  return so_error;
}

// A DNS query for "probe.sallyport.test" A with the given id.
std::vector<std::uint8_t> dns_query(std::uint16_t id) {
  std::vector<std::uint8_t> q = {static_cast<std::uint8_t>(id >> 8),
                                 static_cast<std::uint8_t>(id),
                                 0x01,
                                 0x00,
                                 0,
                                 1,
                                 0,
                                 0,
                                 0,
                                 0,
                                 0,
                                 0};
  for (std::string_view label : {"probe", "sallyport", "test"}) {
    q.push_back(static_cast<std::uint8_t>(label.size()));
    q.insert(q.end(), label.begin(), label.end());
  }
  q.insert(q.end(), {0, 0, 1, 0, 1});
  return q;
}

ProbeResult dns_udp(const std::string& op, const std::string& host, const ProbeOptions& o) {
  const auto target = show(host, 53);
  const auto ep = make_endpoint(host, 53);
  if (!ep) return classify_probe(op, target, EINVAL, false, false, "invalid address");
  UniqueFd fd(::socket(ep->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return classify_probe(op, target, errno, false, false, "socket");
  const auto query = dns_query(0x5a17);
  if (::sendto(fd.get(), query.data(), query.size(), 0,
               reinterpret_cast<const sockaddr*>(&ep->addr), ep->len) < 0) {
    return classify_probe(op, target, errno, false, false, "sendto");
  }
  // The query left the host: that alone is "allowed"; an answer just confirms it.
  if (const int w = wait_for(fd.get(), POLLIN, o.timeout); w != 0) {
    return classify_probe(op, target, 0, false, false, "sent, no answer (" + errno_name(w) + ")");
  }
  std::array<std::uint8_t, 512> answer{};
  const auto n = ::recv(fd.get(), answer.data(), answer.size(), 0);
  if (n < 2)
    return classify_probe(op, target, n < 0 ? errno : 0, false, false, "sent, unreadable answer");
  const bool matches = answer[0] == query[0] && answer[1] == query[1];
  return classify_probe(op, target, 0, false, false,
                        matches ? "answered" : "answered (foreign id)");
}

ProbeResult tcp(const std::string& op, const std::string& host, std::uint16_t port,
                const ProbeOptions& o) {
  const auto target = show(host, port);
  const auto ep = make_endpoint(host, port);
  if (!ep) return classify_probe(op, target, EINVAL, false, false, "invalid address");
  const int err = timed_connect(*ep, SOCK_STREAM, o.timeout);
  return classify_probe(op, target, err, false, false, err == 0 ? "connected" : "connect");
}

ProbeResult udp_sendto(const std::string& op, const std::string& host_port) {
  const auto hp = split_host_port(host_port);
  const auto ep = hp ? make_endpoint(hp->first, hp->second) : std::nullopt;
  if (!ep) return classify_probe(op, host_port, EINVAL, false, false, "invalid host:port");
  UniqueFd fd(::socket(ep->family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return classify_probe(op, host_port, errno, false, false, "socket");
  static constexpr char kPayload[] = "sallyport-probe";
  const auto sent = ::sendto(fd.get(), kPayload, sizeof kPayload - 1, 0,
                             reinterpret_cast<const sockaddr*>(&ep->addr), ep->len);
  return classify_probe(op, host_port, sent < 0 ? errno : 0, false, false,
                        sent < 0 ? "sendto" : "sent");
}

ProbeResult raw_icmp(const std::string& host, bool has_net_raw) {
  const std::string op = "raw-icmp";
  const auto ep = make_endpoint(host, 0);
  if (!ep || ep->family != AF_INET)
    return classify_probe(op, host, EINVAL, true, has_net_raw, "needs an IPv4 host");
  UniqueFd fd(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP));
  if (!fd.valid())
    return classify_probe(op, host, errno, true, has_net_raw, "socket(AF_INET, SOCK_RAW)");
  icmphdr echo{};
  echo.type = ICMP_ECHO;
  echo.un.echo.id = htons(0x5a17);
  // Checksum of an all-zero-payload echo header: ~(type<<8 | id) folded.
  std::uint32_t sum = (ICMP_ECHO << 8) + 0x5a17;
  echo.checksum = htons(static_cast<std::uint16_t>(~((sum & 0xffff) + (sum >> 16))));
  const auto sent = ::sendto(fd.get(), &echo, sizeof echo, 0,
                             reinterpret_cast<const sockaddr*>(&ep->addr), ep->len);
  return classify_probe(op, host, sent < 0 ? errno : 0, true, has_net_raw,
                        sent < 0 ? "sendto" : "socket + echo sent");
}

ProbeResult packet_socket(bool has_net_raw) {
  UniqueFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
  return classify_probe("packet-socket", "AF_PACKET", fd.valid() ? 0 : errno, true, has_net_raw,
                        fd.valid() ? "socket created" : "socket(AF_PACKET)");
}

ProbeResult skipped(std::string op, std::string why) {
  ProbeResult r;
  r.op = std::move(op);
  r.target = "-";
  r.verdict = ProbeVerdict::skipped;
  r.blocker = "-";
  r.detail = std::move(why);
  return r;
}

}  // namespace

std::vector<ProbeResult> run_probe(const ProbeOptions& o) {
  const bool has_net_raw = has_effective_capability(kCapNetRaw);
  const std::string resolver = o.resolver.empty() ? first_nameserver() : o.resolver;
  std::vector<ProbeResult> out;
  out.push_back(tcp("imds-tcp", o.imds, 80, o));
  out.push_back(tcp("imds-v4mapped-tcp6", "::ffff:" + o.imds, 80, o));
  if (auto c2 = split_host_port(o.c2)) {
    out.push_back(tcp("c2-tcp", c2->first, c2->second, o));
  } else {
    out.push_back(classify_probe("c2-tcp", o.c2, EINVAL, false, false, "invalid host:port"));
  }
  if (resolver.empty()) {
    out.push_back(
        skipped("resolver-dns-udp", "no --resolver and no nameserver in /etc/resolv.conf"));
    out.push_back(
        skipped("resolver-dns-tcp", "no --resolver and no nameserver in /etc/resolv.conf"));
  } else {
    out.push_back(dns_udp("resolver-dns-udp", resolver, o));
    out.push_back(tcp("resolver-dns-tcp", resolver, 53, o));
  }
  out.push_back(dns_udp("other-dns-udp", o.other_dns, o));
  out.push_back(tcp("loopback-tcp", "127.0.0.1", o.loopback_port, o));
  out.push_back(tcp("loopback-admin-tcp", "127.0.0.1", o.admin_port, o));
  out.push_back(udp_sendto("outside-udp-sendto", o.outside_udp));
  const auto c2 = split_host_port(o.c2);
  out.push_back(raw_icmp(c2 ? c2->first : o.c2, has_net_raw));
  out.push_back(packet_socket(has_net_raw));
  return out;
}

Result<bool> in_foreign_netns() {
  struct stat self {
  }, init{};
  if (::stat("/proc/self/ns/net", &self) != 0) return errno_error("stat /proc/self/ns/net", errno);
  if (::stat("/proc/1/ns/net", &init) != 0) return errno_error("stat /proc/1/ns/net", errno);
  return self.st_ino != init.st_ino || self.st_dev != init.st_dev;
}

std::string first_nameserver(const std::string& resolv_conf) {
  std::ifstream in(resolv_conf);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key, value;
    if (words >> key >> value && key == "nameserver") return value;
  }
  return {};
}

}  // namespace sallyport::bpf

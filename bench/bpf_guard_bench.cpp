// Cost of the syscalls the kernel guard hooks, measured by bench/bpf_bench.sh with no program,
// with the guard, and with an equivalent iptables `-m owner` rule set (same run, same netns).
// Loopback only: the bench never sends to a non-loopback address.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace {

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// A bound UDP receiver whose port the benchmarks target; its queue may overflow, which only
// drops datagrams at the receiver and does not affect the sender's syscall path.
struct UdpSink {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = loopback(0);
  UdpSink() {
    socklen_t len = sizeof addr;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  }
  ~UdpSink() { ::close(fd); }
};

// connect() on a UDP socket: runs cgroup/connect4 each call, sends nothing.
void BM_UdpConnectLoopback(benchmark::State& state) {
  UdpSink sink;
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  for (auto _ : state) {
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&sink.addr), sizeof sink.addr) != 0) {
      state.SkipWithError(std::strerror(errno));
      break;
    }
  }
  ::close(fd);
}
BENCHMARK(BM_UdpConnectLoopback);

// sendto() on an unconnected UDP socket: cgroup/sendmsg4 + cgroup_skb/egress (+ iptables OUTPUT).
void BM_UdpSendtoLoopback(benchmark::State& state) {
  UdpSink sink;
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  char payload[32] = {};
  char drain[64];
  for (auto _ : state) {
    if (::sendto(fd, payload, sizeof payload, 0, reinterpret_cast<const sockaddr*>(&sink.addr),
                 sizeof sink.addr) < 0) {
      state.SkipWithError(std::strerror(errno));
      break;
    }
    ::recv(sink.fd, drain, sizeof drain, MSG_DONTWAIT);  // keep the receiver from dropping
  }
  ::close(fd);
}
BENCHMARK(BM_UdpSendtoLoopback);

// Full TCP connect to a loopback listener (connect4 + SYN/SYN-ACK/ACK through skb egress), accept
// and close: the path an agent's HTTP client takes to the proxy on 127.0.0.1.
void BM_TcpConnectLoopback(benchmark::State& state) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = loopback(0);
  socklen_t len = sizeof addr;
  const int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::listen(listener, 1024);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  for (auto _ : state) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      state.SkipWithError(std::strerror(errno));
      ::close(fd);
      break;
    }
    const linger abort_close{1, 0};  // RST on close: no TIME_WAIT pile-up over millions of runs
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_close, sizeof abort_close);
    ::close(::accept(listener, nullptr, nullptr));
    ::close(fd);
  }
  ::close(listener);
}
BENCHMARK(BM_TcpConnectLoopback);

}  // namespace

BENCHMARK_MAIN();

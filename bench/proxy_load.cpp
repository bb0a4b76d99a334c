// Load client and echo server for bench/proxy_bench.sh (loopback only; bounded count and time).
//   proxy_load echo                      → echo server on 127.0.0.1:0, prints the port, serves
//   proxy_load run --target 127.0.0.1:P [--proxy 127.0.0.1:Q] --tunnels N --concurrency C
//                  [--pings K] [--max-seconds S]
// Each tunnel: TCP connect (to the proxy, CONNECT target, wait for 200; or directly to the
// target), then K round trips of a 64-byte message, then close. Prints one JSON line:
// tunnels, seconds, tunnels_per_s, setup_us {p50,p99} (connect → tunnel ready → first echo),
// rtt_us {p50,p99} (later round trips inside the open tunnel), client_cpu_s (this process).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

sockaddr_in parse_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(std::stoi(text.substr(colon + 1))));
  if (inet_pton(AF_INET, text.substr(0, colon).c_str(), &sa.sin_addr) != 1 ||
      (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
    std::fprintf(stderr, "proxy_load: %s is not a loopback ip:port\n", text.c_str());
    std::exit(2);
  }
  return sa;
}

int echo_server() {
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(listener, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(listener, 4096) != 0) {
    std::perror("echo: bind/listen");
    return 1;
  }
  socklen_t length = sizeof sa;
  getsockname(listener, reinterpret_cast<sockaddr*>(&sa), &length);
  std::printf("%d\n", ntohs(sa.sin_port));
  std::fflush(stdout);
  int epoll = epoll_create1(0);
  epoll_event ev{EPOLLIN, {.fd = listener}};
  epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &ev);
  std::vector<epoll_event> events(256);
  char buffer[16384];
  for (;;) {
    int n = epoll_wait(epoll, events.data(), static_cast<int>(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        for (int client; (client = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;) {
          setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event cev{EPOLLIN, {.fd = client}};
          epoll_ctl(epoll, EPOLL_CTL_ADD, client, &cev);
        }
        continue;
      }
      auto got = read(fd, buffer, sizeof buffer);
      if (got <= 0) {
        close(fd);
        continue;
      }
      // Echo messages are small; a short blocking-style retry loop is enough here.
      for (ssize_t sent = 0; sent < got;) {
        auto w = write(fd, buffer + sent, static_cast<std::size_t>(got - sent));
        if (w < 0 && errno != EAGAIN) break;
        if (w > 0) sent += w;
      }
    }
  }
}

struct Options {
  std::string target, proxy;
  int tunnels = 1000, concurrency = 16, pings = 5, max_seconds = 30;
};

bool read_exact(int fd, char* out, std::size_t count) {
  for (std::size_t got = 0; got < count;) {
    auto n = read(fd, out + got, count - got);
    if (n <= 0) return false;
    got += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads the proxy's answer to CONNECT in chunks (not byte by byte: the client's own syscalls
// must not dominate what is measured). Nothing else can arrive before the head ends, since the
// echo origin only answers what the client sends after the 200.
bool read_connect_reply(int fd) {
  char head[4096];
  std::size_t got = 0;
  while (got < sizeof head) {
    auto n = read(fd, head + got, sizeof head - got);
    if (n <= 0) return false;
    got += static_cast<std::size_t>(n);
    std::string_view text(head, got);
    if (auto end = text.find("\r\n\r\n"); end != text.npos)
      return end + 4 == got && text.size() > 12 && text.substr(9, 3) == "200";
  }
  return false;
}

// One tunnel; returns false on any failure. setup_us / rtts are filled on success.
bool one_tunnel(const Options& o, const sockaddr_in& first_hop, double& setup_us, std::vector<double>& rtts) {
  auto start = clock_type::now();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&first_hop), sizeof first_hop) == 0;
  if (ok && !o.proxy.empty()) {
    std::string request = "CONNECT " + o.target + " HTTP/1.1\r\nHost: " + o.target + "\r\n\r\n";
    ok = write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size()) &&
         read_connect_reply(fd);
  }
  char message[64], echo[64];
  std::memset(message, 'x', sizeof message);
  for (int i = 0; ok && i < o.pings; ++i) {
    auto sent_at = clock_type::now();
    ok = write(fd, message, sizeof message) == static_cast<ssize_t>(sizeof message) &&
         read_exact(fd, echo, sizeof echo);
    auto now = clock_type::now();
    if (i == 0) setup_us = std::chrono::duration<double, std::micro>(now - start).count();
    else rtts.push_back(std::chrono::duration<double, std::micro>(now - sent_at).count());
  }
  close(fd);
  return ok;
}

double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1));
  return values[index];
}

int run(const Options& o) {
  auto first_hop = parse_endpoint(o.proxy.empty() ? o.target : o.proxy);
  parse_endpoint(o.target);
  std::atomic<int> next{0}, failures{0};
  std::mutex mutex;
  std::vector<double> setups, rtts;
  auto deadline = clock_type::now() + std::chrono::seconds(o.max_seconds);
  auto start = clock_type::now();
  std::vector<std::thread> workers;
  for (int w = 0; w < o.concurrency; ++w) {
    workers.emplace_back([&] {
      std::vector<double> my_setups, my_rtts;
      while (next.fetch_add(1) < o.tunnels && clock_type::now() < deadline) {
        double setup = 0;
        if (one_tunnel(o, first_hop, setup, my_rtts)) my_setups.push_back(setup);
        else ++failures;
      }
      std::lock_guard lock(mutex);
      setups.insert(setups.end(), my_setups.begin(), my_setups.end());
      rtts.insert(rtts.end(), my_rtts.begin(), my_rtts.end());
    });
  }
  for (auto& t : workers) t.join();
  double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  auto done = setups.size();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);  // the client's own CPU (user + system), to show what it costs
  auto cpu_seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  std::printf("{\"tunnels\": %zu, \"failures\": %d, \"seconds\": %.3f, \"tunnels_per_s\": %.1f, "
              "\"setup_us\": {\"p50\": %.1f, \"p99\": %.1f}, \"rtt_us\": {\"p50\": %.1f, \"p99\": %.1f}, "
              "\"client_cpu_s\": %.3f}\n",
              done, failures.load(), seconds, static_cast<double>(done) / seconds,
              percentile(setups, 0.50), percentile(setups, 0.99), percentile(rtts, 0.50),
              percentile(rtts, 0.99), cpu_seconds(usage.ru_utime) + cpu_seconds(usage.ru_stime));
  return failures.load() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "echo") return echo_server();
  if (argc < 2 || std::string(argv[1]) != "run") {
    std::fprintf(stderr, "usage: proxy_load echo | run --target ip:port [--proxy ip:port] "
                         "[--tunnels N] [--concurrency C] [--pings K] [--max-seconds S]\n");
    return 2;
  }
  Options o;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string key = argv[i], value = argv[i + 1];
    if (key == "--target") o.target = value;
    else if (key == "--proxy") o.proxy = value;
    else if (key == "--tunnels") o.tunnels = std::min(std::stoi(value), 1000000);
    else if (key == "--concurrency") o.concurrency = std::clamp(std::stoi(value), 1, 512);
    else if (key == "--pings") o.pings = std::clamp(std::stoi(value), 1, 1000);
    else if (key == "--max-seconds") o.max_seconds = std::clamp(std::stoi(value), 1, 600);
    else { std::fprintf(stderr, "proxy_load: unknown option %s\n", key.c_str()); return 2; }
  }
  if (o.target.empty()) { std::fprintf(stderr, "proxy_load: --target is required\n"); return 2; }
  return run(o);
}

// Inference gateway added latency: the same requests sent straight to a mock provider and through
// sallyport's gateway, p50/p99 of both and the difference, non-stream (full answer) and stream
// (time to first event), at 1, 16 and 64 concurrent keep-alive clients, in one run; plus the
// gateway's RSS. Loopback only, bounded in requests and time.
//   sallyport_gateway_bench GATEWAY_BIN [requests_per_level]
// GATEWAY_BIN accepts `run --config F` (sallyport once app.cpp runs the gateway, or
// sallyport_gateway_driver). The mock provider runs in this process (thread per connection).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

const std::string kJsonAnswer =
    R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-bench","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the bench mock"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}})";

std::string sse_answer() {
  std::string body;
  for (const char* word : {"Hel", "lo", " world"}) {
    body += std::string(R"(data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":")") +
            word + "\"},\"finish_reason\":null}]}\n\n";
  }
  body += R"(data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}})"
          "\n\ndata: [DONE]\n\n";
  return body;
}

bool write_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const auto n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads one HTTP message head + Content-Length body from `fd` into `buf` (keeps leftovers).
bool read_request(int fd, std::string& buf, std::string& request) {
  char tmp[16384];
  for (;;) {
    const auto end = buf.find("\r\n\r\n");
    if (end != std::string::npos) {
      std::size_t length = 0;
      const auto cl = buf.find("Content-Length: ");
      const auto cl2 = buf.find("content-length: ");
      const auto at = cl != std::string::npos && cl < end ? cl : cl2;
      if (at != std::string::npos && at < end) length = std::strtoul(buf.c_str() + at + 16, nullptr, 10);
      if (buf.size() >= end + 4 + length) {
        request = buf.substr(0, end + 4 + length);
        buf.erase(0, end + 4 + length);
        return true;
      }
    }
    const auto n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<std::size_t>(n));
  }
}

void serve_mock_connection(int fd) {
  static const std::string sse = sse_answer();
  std::string buf, request;
  while (read_request(fd, buf, request)) {
    std::string response;
    if (request.find("\"stream\":true") != std::string::npos) {
      char size[32];
      std::snprintf(size, sizeof size, "%zx\r\n", sse.size());
      response = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" +
                 std::string(size) + sse + "\r\n0\r\n\r\n";
    } else {
      response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                 std::to_string(kJsonAnswer.size()) + "\r\n\r\n" + kJsonAnswer;
    }
    if (!write_all(fd, response)) break;
  }
  ::close(fd);
}

int listen_loopback(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd, 512) != 0) return -1;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Sends one request and returns the latency (full answer, or first SSE event when streaming);
// reads the rest of the answer so the connection can carry the next request. -1 on error.
double one_request(int fd, bool stream, std::string& buf) {
  const std::string body = std::string(R"({"model":"gpt-bench","max_tokens":16,"stream":)") +
                           (stream ? "true" : "false") +
                           R"(,"messages":[{"role":"user","content":"say hello"}]})";
  const std::string request = "POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer dummy\r\n"
                              "Content-Type: application/json\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
  buf.clear();
  const auto start = Clock::now();
  if (!write_all(fd, request)) return -1;
  double latency = -1;
  char tmp[16384];
  for (;;) {
    const auto head_end = buf.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      if (!buf.starts_with("HTTP/1.1 200")) return -1;
      if (stream) {
        if (latency < 0 && buf.find("data: ", head_end) != std::string::npos) {
          latency = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        }
        if (buf.ends_with("\r\n0\r\n\r\n")) break;
      } else {
        const auto cl = buf.find("ontent-Length: ");
        if (cl != std::string::npos && cl < head_end) {
          const auto length = std::strtoul(buf.c_str() + cl + 15, nullptr, 10);
          if (buf.size() >= head_end + 4 + length) {
            latency = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
            break;
          }
        }
      }
    }
    const auto n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return -1;
    buf.append(tmp, static_cast<std::size_t>(n));
  }
  return latency;
}

struct Result {
  double p50 = 0, p99 = 0;
  std::size_t ok = 0, errors = 0;
};

Result run_level(std::uint16_t port, bool stream, int clients, int total) {
  std::vector<std::vector<double>> per(clients);
  std::atomic<std::size_t> errors{0};
  std::vector<std::thread> threads;
  const int each = std::max(1, total / clients);
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      int fd = connect_loopback(port);
      if (fd < 0) ++errors;
      std::string buf;
      for (int i = 0; i < each + 5 && fd >= 0; ++i) {
        const double ms = one_request(fd, stream, buf);
        if (ms < 0) {
          ++errors;
          ::close(fd);
          fd = connect_loopback(port);
          continue;
        }
        if (i >= 5) per[c].push_back(ms);  // first requests warm up the connection and pool
      }
      if (fd >= 0) ::close(fd);
    });
  }
  for (auto& t : threads) t.join();
  std::vector<double> all;
  for (auto& v : per) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  Result r;
  r.ok = all.size();
  r.errors = errors.load();
  if (!all.empty()) {
    r.p50 = all[all.size() / 2];
    r.p99 = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return r;
}

long rss_kb(pid_t pid, const char* field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with(field)) return std::strtol(line.c_str() + std::strlen(field), nullptr, 10);
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: sallyport_gateway_bench GATEWAY_BIN [requests_per_level]\n";
    return 2;
  }
  const int total = argc > 2 ? std::atoi(argv[2]) : 2000;
  std::uint16_t mock_port = 0, gateway_port = 0, admin_port = 0;
  const int mock_fd = listen_loopback(mock_port);
  std::thread([mock_fd] {
    for (;;) {
      const int fd = ::accept(mock_fd, nullptr, nullptr);
      if (fd < 0) return;
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::thread(serve_mock_connection, fd).detach();
    }
  }).detach();
  {  // pick free ports for the gateway
    const int a = listen_loopback(gateway_port), b = listen_loopback(admin_port);
    ::close(a);
    ::close(b);
  }
  char dir_template[] = "/tmp/sallyport-gwbench-XXXXXX";
  const std::string dir = ::mkdtemp(dir_template);
  const std::string config = dir + "/config.json";
  // GW_BENCH_STATE_DIR (e.g. /dev/shm/x) separates the budget journal's fsync cost from the rest.
  const char* state_env = std::getenv("GW_BENCH_STATE_DIR");
  const std::string state_dir = state_env ? std::string(state_env) : dir + "/state";
  std::ofstream(config) << R"({"state_dir":")" << state_dir << R"(","listeners":{"gateway":"127.0.0.1:)"
                        << gateway_port << R"(","admin":"127.0.0.1:)" << admin_port
                        << R"(","proxy":"127.0.0.1:1"},"egress":{"allow_cidrs":["127.0.0.0/8"],"bare_ip":"allow_cidrs","feeds":[]},)"
                        << R"("providers":[{"name":"mock","kind":"openai","base_url":"http://127.0.0.1:)" << mock_port
                        << R"(/v1","api_key":{"env":"BENCH_KEY"},"models":["*"]}],)"
                        << R"("budgets":{"per_request_tokens":100000,"daily_tokens":1000000000000},)"
                        << R"("rate_limits":{"rpm":1000000,"tpm":10000000000,"max_concurrent":256,"queue":256},)"
                        << R"("log":{"format":"json","level":"warn"}})";
  ::setenv("BENCH_KEY", "sk-bench-real-key", 1);
  const pid_t child = ::fork();
  if (child == 0) {
    ::execl(argv[1], argv[1], "run", "--config", config.c_str(), static_cast<char*>(nullptr));
    std::perror("exec");
    ::_exit(127);
  }
  for (int i = 0; i < 200; ++i) {  // wait for the listener
    const int fd = connect_loopback(gateway_port);
    if (fd >= 0) {
      ::close(fd);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::printf("%-10s %-8s %10s %10s %10s %10s %10s %10s %8s\n", "mode", "clients", "direct_p50",
              "direct_p99", "gw_p50", "gw_p99", "added_p50", "added_p99", "errors");
  for (const bool stream : {false, true}) {
    for (const int clients : {1, 16, 64}) {
      const auto direct = run_level(mock_port, stream, clients, total);
      const auto via = run_level(gateway_port, stream, clients, total);
      std::printf("%-10s %-8d %10.3f %10.3f %10.3f %10.3f %10.3f %10.3f %8zu\n",
                  stream ? "stream" : "json", clients, direct.p50, direct.p99, via.p50, via.p99,
                  via.p50 - direct.p50, via.p99 - direct.p99, direct.errors + via.errors);
    }
  }
  std::printf("gateway RSS: %ld kB now, %ld kB peak (ms columns; stream = time to first event)\n",
              rss_kb(child, "VmRSS:"), rss_kb(child, "VmHWM:"));
  ::kill(child, SIGTERM);
  ::waitpid(child, nullptr, 0);
  std::system(("rm -rf " + dir).c_str());
  return 0;
}

// Approval webhook: what the notification says, delivery with retries and backoff off the
// request path, bounded queue, a real HTTP POST to a loopback receiver, and no secret (token,
// URL path) in the log.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/log.hpp"
#include "governance/approval_webhook.hpp"

namespace sallyport::governance {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

ApprovalRecord pending_record() {
  ApprovalStore store(ApprovalConfig{std::chrono::seconds(90)});
  auto record = store.create({"sbx-1", "shell",
                              R"({"command":"deploy --key sk-proj-abcdefghijklmnopqrstuvwx1234","path":"/srv"})",
                              "shell-approval", "call_7"});
  return *record;
}

ApprovalWebhookOptions options(std::string url = "http://127.0.0.1:9/hooks/T0/SECRETPATH") {
  ApprovalWebhookOptions o;
  o.url = std::move(url);
  o.bearer_token = "hook-token-0123456789";
  o.backoff = 1ms;
  o.retries = 2;
  o.tenant = "acme";
  o.namespace_ = "agents";
  o.pod = "agent-0";
  return o;
}

// Collects results; wait() blocks until `n` results arrived (the worker is asynchronous).
struct Results {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<WebhookResult> seen;
  ApprovalWebhook::ResultHook hook() {
    return [this](WebhookResult r) {
      std::lock_guard lock(mutex);
      seen.push_back(r);
      cv.notify_all();
    };
  }
  std::vector<WebhookResult> wait(std::size_t n) {
    std::unique_lock lock(mutex);
    cv.wait_for(lock, 20s, [&] { return seen.size() >= n; });
    return seen;
  }
};

TEST(ApprovalWebhook, NotificationCarriesWhatAnOperatorNeedsAndNoSecrets) {
  const auto record = pending_record();
  const json body = json::parse(approval_notification_json(record, options()));
  EXPECT_EQ(body["type"], "approval.pending");
  EXPECT_EQ(body["id"], record.id);
  EXPECT_EQ(body["sandbox"], "sbx-1");
  EXPECT_EQ(body["tenant"], "acme");
  EXPECT_EQ(body["namespace"], "agents");
  EXPECT_EQ(body["pod"], "agent-0");
  EXPECT_EQ(body["tool"], "shell");
  EXPECT_EQ(body["rule"], "shell-approval");
  EXPECT_EQ(body["call_id"], "call_7");
  EXPECT_EQ(body["admin_path"], "/admin/approvals/" + record.id);
  EXPECT_EQ(body["approve"]["path"], "/admin/approvals/" + record.id);
  EXPECT_EQ(body["approve"]["body"]["decision"], "approve");
  EXPECT_EQ(body["args_sha256"], record.args_sha256);
  const std::string summary = body["args_summary"];
  EXPECT_NE(summary.find("deploy"), std::string::npos) << summary;
  EXPECT_EQ(summary.find("sk-proj-abcdefghijklmnop"), std::string::npos) << summary;
  EXPECT_NE(summary.find("[REDACTED]"), std::string::npos) << summary;
  // RFC 3339 UTC, expiry = creation + timeout.
  EXPECT_TRUE(body["created_at"].get<std::string>().ends_with("Z"));
  EXPECT_EQ(record.expires - record.created, 90s);
  EXPECT_NE(body["expires_at"], body["created_at"]);
  EXPECT_EQ(body.dump().find("hook-token"), std::string::npos);
}

TEST(ApprovalWebhook, ArgsSummaryIsBoundedAndEscaped) {
  const std::string args = "{\"cmd\":\"" + std::string(1000, 'a') + "\\n\"}";
  const auto summary = approval_args_summary(args);
  EXPECT_LE(summary.size(), 200u + 3u);
  EXPECT_TRUE(summary.ends_with("\u2026"));
  EXPECT_EQ(approval_args_summary("line1\nline2"), "line1\\nline2");
}

TEST(ApprovalWebhook, RetriesWithBackoffThenDelivers) {
  Results results;
  std::vector<std::string> bodies;
  int calls = 0;
  auto created = ApprovalWebhook::create(options(), results.hook(),
      [&](const std::string& body, unsigned& status, std::string& error) {
        bodies.push_back(body);
        status = ++calls < 3 ? 503 : 204;
        if (status != 204) error = "HTTP status 503";
        return status == 204;
      });
  ASSERT_TRUE(created.webhook) << created.error;
  created.webhook->notify(pending_record());
  const auto seen = results.wait(3);
  EXPECT_EQ(seen, (std::vector{WebhookResult::retried, WebhookResult::retried, WebhookResult::delivered}));
  created.webhook.reset();  // joins the worker: `bodies` is no longer written
  ASSERT_EQ(bodies.size(), 3u);
  EXPECT_EQ(bodies[0], bodies[2]);
}

TEST(ApprovalWebhook, GivesUpAfterRetriesAndOnClientErrors) {
  for (unsigned status_code : {500u, 400u, 0u}) {
    Results results;
    int calls = 0;
    auto created = ApprovalWebhook::create(options(), results.hook(),
        [&](const std::string&, unsigned& status, std::string& error) {
          ++calls;
          status = status_code;
          error = status_code ? "HTTP status" : "connection refused";
          return false;
        });
    created.webhook->notify(pending_record());
    const bool retryable = status_code != 400;
    const auto seen = results.wait(retryable ? 3 : 1);
    created.webhook.reset();
    EXPECT_EQ(seen.back(), WebhookResult::failed) << status_code;
    EXPECT_EQ(calls, retryable ? 3 : 1) << status_code;  // 1 + retries (2), or no retry on 4xx
  }
}

TEST(ApprovalWebhook, NotifyNeverWaitsForTheNetworkAndTheQueueIsBounded) {
  Results results;
  std::mutex gate;
  gate.lock();  // the transport blocks until the test opens the gate
  auto o = options();
  o.max_queue = 2;
  auto created = ApprovalWebhook::create(o, results.hook(),
      [&](const std::string&, unsigned& status, std::string&) {
        std::lock_guard wait_for_gate(gate);
        status = 200;
        return true;
      });
  // The first is taken by the (blocked) worker or still queued; at most 3 fit (1 in flight +
  // 2 queued), so of 6 notifications at least 3 are dropped — and notify() returned each time.
  for (int i = 0; i < 6; ++i) created.webhook->notify(pending_record());
  gate.unlock();
  const auto seen = results.wait(6);
  created.webhook.reset();
  const auto dropped = std::count(seen.begin(), seen.end(), WebhookResult::dropped);
  const auto delivered = std::count(seen.begin(), seen.end(), WebhookResult::delivered);
  EXPECT_GE(dropped, 3);
  EXPECT_EQ(dropped + delivered, 6);
}

TEST(ApprovalWebhook, BadUrlsAreRejected) {
  for (const char* url : {"ftp://host/x", "http://", "http://user:pw@host/x", "http://host:99999/",
                          "http://host/a b"}) {
    auto created = ApprovalWebhook::create(options(url));
    EXPECT_FALSE(created.webhook) << url;
    EXPECT_NE(created.error.find("webhook URL"), std::string::npos) << url << ": " << created.error;
  }
  auto ok = ApprovalWebhook::create(options("https://[::1]/x"));
  ASSERT_TRUE(ok.webhook);
  EXPECT_EQ(ok.webhook->endpoint(), "https://[::1]:443");
}

// A one-shot loopback HTTP server: returns the raw request it received.
class Receiver {
 public:
  explicit Receiver(std::string answer) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(fd_, 4);
    thread_ = std::thread([this, answer = std::move(answer)] {
      const int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      char buffer[4096];
      for (;;) {
        const auto n = ::read(client, buffer, sizeof buffer);
        if (n <= 0) break;
        request_.append(buffer, static_cast<std::size_t>(n));
        const auto head_end = request_.find("\r\n\r\n");
        const auto cl = request_.find("Content-Length: ");
        if (head_end != std::string::npos && cl != std::string::npos &&
            request_.size() >= head_end + 4 + std::stoul(request_.substr(cl + 16))) {
          break;
        }
      }
      if (::write(client, answer.data(), answer.size()) < 0) ADD_FAILURE() << "receiver write failed";
      ::close(client);
    });
  }
  ~Receiver() {
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  std::uint16_t port() const { return port_; }
  std::string request() {
    if (thread_.joinable()) thread_.join();
    return request_;
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::string request_;
};

TEST(ApprovalWebhook, PostsJsonWithBearerTokenToALoopbackReceiver) {
  Receiver receiver("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
  Results results;
  auto created = ApprovalWebhook::create(
      options("http://127.0.0.1:" + std::to_string(receiver.port()) + "/hooks/T0/SECRETPATH"), results.hook());
  ASSERT_TRUE(created.webhook) << created.error;
  const auto record = pending_record();
  created.webhook->notify(record);
  EXPECT_EQ(results.wait(1), std::vector{WebhookResult::delivered});
  const std::string request = receiver.request();
  EXPECT_TRUE(request.starts_with("POST /hooks/T0/SECRETPATH HTTP/1.1\r\n")) << request;
  EXPECT_NE(request.find("\r\nAuthorization: Bearer hook-token-0123456789\r\n"), std::string::npos);
  EXPECT_NE(request.find("\r\nContent-Type: application/json\r\n"), std::string::npos);
  const json body = json::parse(request.substr(request.find("\r\n\r\n") + 4));
  EXPECT_EQ(body["id"], record.id);
}

TEST(ApprovalWebhook, FailuresAreLoggedWithoutTokenOrUrlPath) {
  char path[] = "/tmp/sallyport-webhook-log-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  log::set_output_fd(fd);
  {
    Receiver receiver("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
    Results results;
    auto o = options("http://127.0.0.1:" + std::to_string(receiver.port()) + "/hooks/T0/SECRETPATH");
    o.retries = 0;
    auto created = ApprovalWebhook::create(o, results.hook());
    created.webhook->notify(pending_record());
    EXPECT_EQ(results.wait(1), std::vector{WebhookResult::failed});
  }
  log::set_output_fd(1);
  std::ifstream in(path);
  std::stringstream logged;
  logged << in.rdbuf();
  ::close(fd);
  std::remove(path);
  EXPECT_NE(logged.str().find("approval webhook failed"), std::string::npos) << logged.str();
  EXPECT_NE(logged.str().find("127.0.0.1"), std::string::npos);
  EXPECT_EQ(logged.str().find("SECRETPATH"), std::string::npos) << logged.str();
  EXPECT_EQ(logged.str().find("hook-token"), std::string::npos) << logged.str();
}

}  // namespace
}  // namespace sallyport::governance

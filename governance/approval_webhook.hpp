#pragma once
// Announces pending tool-call approvals to an operator endpoint (config
// policy.approvals.webhook): one JSON POST per new pending record, from a background thread, so
// the request path only ever enqueues (ApprovalStore's notify hook calls notify()).
//
// Delivery: each attempt connects, sends and reads the status line within `timeout`; 2xx is
// delivered; connection errors, 408, 429 and 5xx are retried up to `retries` times with doubling
// backoff (backoff, 2*backoff, …); other statuses fail at once. A full queue drops the
// notification (the approval itself still works through GET /admin/approvals). Every outcome
// goes to the result hook (metrics) and failures are logged with the endpoint's scheme, host
// and port only: the URL path (Slack-style hooks keep their secret there) and the token are
// never logged.
//
// The body (approval_notification_json) carries: type "approval.pending", id, sandbox, tenant,
// namespace, pod, tool, rule, call_id, args_summary (redacted), args_sha256, created_at,
// expires_at (RFC 3339 UTC), admin_path "/admin/approvals/<id>" and the approve/deny requests.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "governance/approval_store.hpp"

namespace sallyport::governance {

struct ApprovalWebhookOptions {
  std::string url;                    // http:// or https://
  std::string bearer_token;           // resolved secret; empty = no Authorization header
  std::optional<std::string> ca_file; // https trust anchors; default: system store
  std::chrono::milliseconds timeout{5000};
  unsigned retries = 3;
  std::chrono::milliseconds backoff{500};
  std::size_t max_queue = 256;
  // Where the agent runs (identity config), copied into every notification.
  std::string tenant, namespace_, pod;
};

enum class WebhookResult : unsigned char { delivered, retried, failed, dropped };
const char* to_string(WebhookResult result) noexcept;

// The JSON text POSTed for `record`.
std::string approval_notification_json(const ApprovalRecord& record,
                                       const ApprovalWebhookOptions& options);

class ApprovalWebhook {
 public:
  // One delivery attempt: true on 2xx. `status` = HTTP status (0 when none was read), `error`
  // = what went wrong (never containing the token or the URL path).
  using Transport = std::function<bool(const std::string& body, unsigned& status, std::string& error)>;
  using ResultHook = std::function<void(WebhookResult)>;

  struct Created {
    std::unique_ptr<ApprovalWebhook> webhook;
    std::string error;  // bad URL: what and what is expected
  };
  // HTTP(S) transport. `transport` replaces it (tests).
  static Created create(ApprovalWebhookOptions options, ResultHook on_result = {},
                        Transport transport = {});

  ~ApprovalWebhook();  // stops the worker; notifications still queued are not sent
  ApprovalWebhook(const ApprovalWebhook&) = delete;
  ApprovalWebhook& operator=(const ApprovalWebhook&) = delete;

  // Queues a notification; never blocks on the network.
  void notify(const ApprovalRecord& record);

  // "https://host:port" of the endpoint (safe to log).
  [[nodiscard]] const std::string& endpoint() const noexcept { return endpoint_; }

 private:
  ApprovalWebhook(ApprovalWebhookOptions options, std::string endpoint, ResultHook on_result,
                  Transport transport);
  void run();
  void deliver(const std::string& body, const std::string& approval_id);
  bool sleep_for(std::chrono::milliseconds delay);  // false when stopping

  const ApprovalWebhookOptions options_;
  const std::string endpoint_;
  const ResultHook on_result_;
  const Transport transport_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<std::string, std::string>> queue_;  // (approval id, body)
  bool stopping_ = false;
  std::thread worker_;  // last: starts after every other member is ready
};

}  // namespace sallyport::governance

// Approval notifications over HTTP(S) from a background thread (contracts in
// approval_webhook.hpp).
#include "governance/approval_webhook.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <utility>

#include "common/log.hpp"
#include "governance/audit_record.hpp"
#include "governance/siem_net.hpp"

namespace sallyport::governance {
namespace {

constexpr std::size_t kMaxStatusHead = 8192;
constexpr std::chrono::milliseconds kMaxBackoff{30000};

struct WebhookTarget {
  bool tls = false;
  siem::Endpoint endpoint;
  std::string host_header;  // authority as written in the URL
  std::string path;         // secret-bearing in some services: never logged
  std::string safe_name;    // scheme://authority, for logs
};

std::optional<WebhookTarget> parse_target(std::string_view url, std::string& error) {
  WebhookTarget t;
  std::string_view rest = url;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    t.tls = true;
    rest.remove_prefix(8);
  } else {
    error = "webhook URL: expected http:// or https://";
    return std::nullopt;
  }
  const auto slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  t.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    error = "webhook URL: expected host[:port] without user:password";
    return std::nullopt;
  }
  for (char c : std::string_view(url)) {
    if (static_cast<unsigned char>(c) <= 32 || c == 127) {
      error = "webhook URL: control characters or spaces are not allowed";
      return std::nullopt;
    }
  }
  const bool bracketed = authority.front() == '[';
  const auto close = authority.find(']');
  const bool has_port = bracketed ? close != std::string_view::npos && close + 1 < authority.size()
                                  : authority.find(':') != std::string_view::npos;
  std::string with_port(authority);
  if (!has_port) with_port += t.tls ? ":443" : ":80";
  auto endpoint = siem::parse_host_port(with_port, error);
  if (!endpoint) {
    error = "webhook URL: " + error;
    return std::nullopt;
  }
  t.endpoint = *endpoint;
  t.host_header = std::string(authority);
  t.safe_name = std::string(t.tls ? "https://" : "http://") + with_port;
  return t;
}

// Reads the status line of the answer; the body is not needed.
unsigned read_status(siem::NetStream& stream, std::string& error) {
  std::string head;
  char buffer[2048];
  while (head.find("\r\n") == std::string::npos && head.size() < kMaxStatusHead) {
    const long n = stream.read_some(buffer, sizeof buffer, error);
    if (n <= 0) {
      if (n == 0) error = "connection closed before the HTTP status line";
      return 0;
    }
    head.append(buffer, static_cast<std::size_t>(n));
  }
  const std::string line = head.substr(0, head.find("\r\n"));
  unsigned status = 0;
  if (line.size() >= 12 && line.starts_with("HTTP/1.")) {
    for (std::size_t i = 9; i < 12; ++i) {
      const char c = line[i];
      if (c < '0' || c > '9') {
        error = "not an HTTP response";
        return 0;
      }
      status = status * 10 + static_cast<unsigned>(c - '0');
    }
    return status;
  }
  error = "not an HTTP response";
  return 0;
}

ApprovalWebhook::Transport http_transport(WebhookTarget target, const ApprovalWebhookOptions& options) {
  std::string headers = "Host: " + target.host_header +
                        "\r\nContent-Type: application/json\r\nConnection: close\r\n"
                        "User-Agent: sallyport-approvals\r\n";
  if (!options.bearer_token.empty()) headers += "Authorization: Bearer " + options.bearer_token + "\r\n";
  std::optional<siem::TlsSettings> tls;
  if (target.tls) tls = siem::TlsSettings{options.ca_file, std::nullopt};
  return [target = std::move(target), headers = std::move(headers), tls,
          timeout = options.timeout](const std::string& body, unsigned& status, std::string& error) {
    status = 0;
    auto stream = siem::NetStream::connect(target.endpoint, tls, timeout, error);
    if (!stream) return false;
    const std::string head = "POST " + target.path + " HTTP/1.1\r\n" + headers +
                             "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    if (!stream->write_all(head, error) || !stream->write_all(body, error)) return false;
    status = read_status(*stream, error);
    if (status != 0 && (status < 200 || status > 299)) error = "HTTP status " + std::to_string(status);
    return status >= 200 && status <= 299;
  };
}

// Approval ids are 32 hex chars, which the log redaction takes for an API key; the first 12
// identify the approval for an operator (GET /admin/approvals) and pass.
std::string log_id(const std::string& id) { return id.substr(0, 12) + "…"; }

bool retryable(unsigned status) {
  return status == 0 || status == 408 || status == 429 || status >= 500;
}

}  // namespace

const char* to_string(WebhookResult result) noexcept {
  switch (result) {
    case WebhookResult::delivered: return "delivered";
    case WebhookResult::retried: return "retried";
    case WebhookResult::failed: return "failed";
    case WebhookResult::dropped: return "dropped";
  }
  return "failed";
}

std::string approval_notification_json(const ApprovalRecord& record,
                                       const ApprovalWebhookOptions& options) {
  const std::string path = "/admin/approvals/" + record.id;
  const nlohmann::json body{
      {"type", "approval.pending"},
      {"id", record.id},
      {"sandbox", record.sandbox},
      {"tenant", options.tenant},
      {"namespace", options.namespace_},
      {"pod", options.pod},
      {"tool", record.tool},
      {"rule", record.rule},
      {"call_id", record.call_id},
      {"args_summary", record.args_summary},
      {"args_sha256", record.args_sha256},
      {"created_at", audit::format_rfc3339_micros(record.created)},
      {"expires_at", audit::format_rfc3339_micros(record.expires)},
      {"admin_path", path},
      {"approve", {{"method", "POST"}, {"path", path}, {"body", {{"decision", "approve"}}}}},
      {"deny", {{"method", "POST"}, {"path", path}, {"body", {{"decision", "deny"}}}}}};
  // Tool names come from model output: invalid UTF-8 is replaced, never a throw.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ApprovalWebhook::Created ApprovalWebhook::create(ApprovalWebhookOptions options,
                                                 ResultHook on_result, Transport transport) {
  Created created;
  std::string error;
  auto target = parse_target(options.url, error);
  if (!target) {
    created.error = error;
    return created;
  }
  if (options.bearer_token.find_first_of("\r\n") != std::string::npos) {
    created.error = "webhook token contains a line break";
    return created;
  }
  std::string endpoint = target->safe_name;
  if (!transport) transport = http_transport(std::move(*target), options);
  created.webhook.reset(new ApprovalWebhook(std::move(options), std::move(endpoint),
                                            std::move(on_result), std::move(transport)));
  return created;
}

ApprovalWebhook::ApprovalWebhook(ApprovalWebhookOptions options, std::string endpoint,
                                 ResultHook on_result, Transport transport)
    : options_(std::move(options)),
      endpoint_(std::move(endpoint)),
      on_result_(std::move(on_result)),
      transport_(std::move(transport)),
      worker_([this] { run(); }) {}

ApprovalWebhook::~ApprovalWebhook() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

void ApprovalWebhook::notify(const ApprovalRecord& record) {
  bool dropped = false;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= options_.max_queue) {
      dropped = true;
    } else {
      queue_.emplace_back(record.id, approval_notification_json(record, options_));
    }
  }
  if (!dropped) {
    wake_.notify_one();
    return;
  }
  log::warn("approval", "approval webhook queue full; notification dropped",
            {{"approval", log_id(record.id)}, {"endpoint", endpoint_}});
  if (on_result_) on_result_(WebhookResult::dropped);
}

void ApprovalWebhook::run() {
  for (;;) {
    std::pair<std::string, std::string> item;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      item = std::move(queue_.front());
      queue_.pop_front();
    }
    deliver(item.second, item.first);
  }
}

bool ApprovalWebhook::sleep_for(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, delay, [this] { return stopping_; });
}

void ApprovalWebhook::deliver(const std::string& body, const std::string& approval_id) {
  auto delay = options_.backoff;
  for (unsigned attempt = 0;; ++attempt) {
    unsigned status = 0;
    std::string error;
    if (transport_(body, status, error)) {
      log::info("approval", "approval webhook delivered",
                {{"approval", log_id(approval_id)}, {"endpoint", endpoint_}, {"attempts", attempt + 1}});
      if (on_result_) on_result_(WebhookResult::delivered);
      return;
    }
    if (attempt >= options_.retries || !retryable(status)) {
      log::warn("approval", "approval webhook failed; the approval stays pending in /admin/approvals",
                {{"approval", log_id(approval_id)}, {"endpoint", endpoint_}, {"attempts", attempt + 1},
                 {"status", status}, {"error", error}});
      if (on_result_) on_result_(WebhookResult::failed);
      return;
    }
    log::debug("approval", "approval webhook attempt failed; retrying",
               {{"approval", log_id(approval_id)}, {"endpoint", endpoint_}, {"attempt", attempt + 1},
                {"status", status}, {"error", error}, {"backoff_ms", delay.count()}});
    if (on_result_) on_result_(WebhookResult::retried);
    if (!sleep_for(delay)) return;
    delay = std::min(delay * 2, kMaxBackoff);
  }
}

}  // namespace sallyport::governance

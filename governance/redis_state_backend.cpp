#include "governance/redis_state_backend.hpp"

#include <random>
#include <vector>

#include "common/log.hpp"

namespace sallyport::governance {

struct PendingSettle {
  AdmitTicket ticket;
  std::int64_t charged = 0;
};

struct RedisStateBackend::Shared : std::enable_shared_from_this<RedisStateBackend::Shared> {
  Shared(RedisCommandSink& s, RedisBackendOptions o) : sink(s), options(std::move(o)) {
    if (!options.clock) options.clock = [] { return std::chrono::system_clock::now(); };
    std::random_device rd;
    const std::uint64_t nonce = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(nonce));
    id_prefix = buf;
  }

  RedisCommandSink& sink;
  RedisBackendOptions options;
  const std::string admit_sha = script_sha1(kAdmitScript);
  const std::string settle_sha = script_sha1(kSettleScript);
  std::string id_prefix;  // random per process: ticket ids never collide across replicas
  std::atomic<std::uint64_t> next_id{1};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> admitted_without_store{0};
  std::atomic<std::uint64_t> dropped_settles{0};
  std::atomic<bool> last_call_ok{true};

  mutable std::mutex mutex;  // guards pending, last_error
  std::deque<PendingSettle> pending;
  std::string last_error;

  void eval(std::string_view script, const std::string& sha, std::vector<std::string> keys,
            std::vector<std::string> args, RedisCommandSink::Done done) {
    // The callback holds this state alive, as before: `sink` outlives it by contract.
    eval_script(sink, script, sha, std::move(keys), std::move(args),
                [self = shared_from_this(), done = std::move(done)](RedisResult r) mutable { done(std::move(r)); });
  }

  // Records the outcome of a call; returns the failure text ("" when it succeeded).
  std::string note(const RedisResult& result, bool shape_ok) {
    std::string failure = redis_failure(result);
    if (failure.empty() && !shape_ok) failure = "redis script answered an unexpected reply";
    if (failure.empty()) {
      if (!last_call_ok.exchange(true)) log::info("state_backend", "redis answers again");
      return failure;
    }
    errors.fetch_add(1);
    if (last_call_ok.exchange(false)) {
      log::warn("state_backend", "redis call failed",
                {{"error", failure},
                 {"on_unavailable", options.on_unavailable == OnUnavailable::fail_open ? "fail_open" : "fail_closed"}});
    }
    std::lock_guard lock(mutex);
    last_error = failure;
    return failure;
  }

  void send_settle(PendingSettle item) {
    const auto today = utc_day_number(options.clock());
    const auto& k = options.keys;
    std::vector<std::string> keys{k.tenant_budget(item.ticket.reserve_day),
                                  k.sandbox_budget(item.ticket.reserve_day), k.tenant_budget(today),
                                  k.sandbox_budget(today), k.rate(), k.settled(item.ticket.id)};
    std::vector<std::string> args{std::to_string(item.ticket.reserved_tokens),
                                  std::to_string(item.charged),
                                  std::to_string(options.key_ttl_seconds),
                                  std::to_string(options.tenant_tpm),
                                  std::to_string(item.charged - item.ticket.rate_tokens)};
    auto self = shared_from_this();
    eval(kSettleScript, settle_sha, std::move(keys), std::move(args),
         [self, item](RedisResult result) mutable {
           const bool ok = result.outcome == RedisOutcome::replied &&
                           result.reply.type == RedisReply::Type::integer;
           if (!self->note(result, ok).empty()) {
             self->queue(std::move(item));
             return;
           }
           self->flush_pending();
         });
  }

  void queue(PendingSettle item) {
    std::lock_guard lock(mutex);
    if (pending.size() >= options.max_pending_settles) {
      pending.pop_front();
      dropped_settles.fetch_add(1);
    }
    pending.push_back(std::move(item));
  }

  void flush_pending() {
    std::deque<PendingSettle> batch;
    {
      std::lock_guard lock(mutex);
      batch.swap(pending);
    }
    for (auto& item : batch) send_settle(std::move(item));
  }
};

AdmitResult admit_result_from_reply(const AdmitReply& reply) {
  AdmitResult result;
  const auto retry_seconds = [](std::int64_t ms) { return std::max<std::int64_t>(1, (ms + 999) / 1000); };
  switch (reply.code) {
    case 0:
      result.decision = Decision::allow("state:ok", "state_backend:redis");
      break;
    case 1:
      result.decision = Decision::deny("rate:rpm", "tenant-rpm", "fleet-wide requests per minute");
      result.retry_after_seconds = retry_seconds(reply.a);
      break;
    case 2:
      result.decision = Decision::deny("rate:tpm", "tenant-tpm", "fleet-wide tokens per minute");
      result.retry_after_seconds = retry_seconds(reply.a);
      break;
    case 3:
      result.decision = Decision::deny("budget:daily", "tenant-daily",
                                       "tenant remaining " + std::to_string(reply.a));
      break;
    case 4:
      result.decision = Decision::deny("budget:daily", "sandbox-daily",
                                       "sandbox remaining " + std::to_string(reply.a));
      break;
    default:
      result.decision = Decision::deny("rate:tpm", "tpm:exceeds-burst",
                                       "request needs more tokens than the tenant tpm");
      result.retry_after_seconds = 60;
      break;
  }
  return result;
}

RedisStateBackend::RedisStateBackend(RedisCommandSink& sink, RedisBackendOptions options)
    : shared_(std::make_shared<Shared>(sink, std::move(options))) {}

void RedisStateBackend::admit(const AdmitRequest& request, AdmitDone done) {
  auto& s = *shared_;
  AdmitTicket ticket;
  ticket.id = s.id_prefix + ":" + std::to_string(s.next_id.fetch_add(1));
  ticket.reserved_tokens = std::max<std::int64_t>(0, request.reserve_tokens);
  ticket.rate_tokens = s.options.tenant_tpm > 0 ? std::max<std::int64_t>(0, request.rate_tokens) : 0;
  ticket.reserve_day = utc_day_number(s.options.clock());
  const auto& k = s.options.keys;
  std::vector<std::string> keys{k.tenant_budget(ticket.reserve_day),
                                k.sandbox_budget(ticket.reserve_day), k.rate()};
  std::vector<std::string> args{std::to_string(s.options.tenant_daily_tokens),
                                std::to_string(s.options.sandbox_daily_tokens),
                                std::to_string(ticket.reserved_tokens),
                                std::to_string(s.options.key_ttl_seconds),
                                std::to_string(s.options.tenant_rpm),
                                std::to_string(s.options.tenant_tpm),
                                std::to_string(ticket.rate_tokens)};
  s.eval(kAdmitScript, s.admit_sha, std::move(keys), std::move(args),
         [self = shared_, ticket = std::move(ticket), done = std::move(done)](RedisResult r) mutable {
           const auto parsed = r.outcome == RedisOutcome::replied ? parse_admit_reply(r.reply) : AdmitReply{};
           const auto failure = self->note(r, parsed.valid);
           if (failure.empty()) {
             auto result = admit_result_from_reply(parsed);
             if (result.decision.allowed()) result.ticket = std::move(ticket);
             self->flush_pending();
             done(std::move(result));
             return;
           }
           AdmitResult result;
           result.backend_unavailable = true;
           if (self->options.on_unavailable == OnUnavailable::fail_open) {
             self->admitted_without_store.fetch_add(1);
             ticket.shared = false;
             result.decision = Decision::allow("state:unavailable", "state_backend:redis", failure);
             result.ticket = std::move(ticket);
           } else {
             result.decision = Decision::deny("budget:unavailable", "state_backend:redis", failure);
             result.retry_after_seconds = 1;
           }
           done(std::move(result));
         });
}

void RedisStateBackend::settle(const AdmitTicket& ticket, std::int64_t actual_tokens) {
  if (!ticket.shared) return;
  shared_->send_settle({ticket, std::max<std::int64_t>(0, actual_tokens)});
}

const RedisBackendOptions& RedisStateBackend::options() const noexcept { return shared_->options; }

void RedisStateBackend::release(const AdmitTicket& ticket) { settle(ticket, 0); }

StateBackendHealth RedisStateBackend::health() const {
  const auto& s = *shared_;
  StateBackendHealth h;
  h.kind = "redis";
  h.up = s.sink.connected();
  h.errors = s.errors.load();
  h.admitted_without_store = s.admitted_without_store.load();
  std::lock_guard lock(s.mutex);
  h.settles_pending = s.pending.size();
  h.detail = h.up ? std::string() : s.last_error;
  if (!h.up && h.detail.empty()) h.detail = "no connection to redis";
  return h;
}

}  // namespace sallyport::governance

// Fleet approval records (contracts in fleet_approvals.hpp).
#include "governance/fleet_approvals.hpp"

#include <algorithm>
#include <mutex>
#include <set>

#include "governance/fleet_scripts.hpp"

namespace sallyport::governance {
namespace {

constexpr std::size_t kMaxActorOrReason = 256;  // as ApprovalStore keeps them

std::int64_t ms_since_epoch(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

struct FleetApprovals::State : std::enable_shared_from_this<FleetApprovals::State> {
  State(RedisCommandSink& s, ApprovalStore& st, FleetApprovalOptions o)
      : sink(s), store(st), options(std::move(o)) {}

  RedisCommandSink& sink;
  ApprovalStore& store;
  const FleetApprovalOptions options;
  const std::string create_sha = script_sha1(kApprovalCreateScript);
  const std::string decide_sha = script_sha1(kApprovalDecideScript);
  const std::string list_sha = script_sha1(kApprovalListScript);
  std::atomic<bool> attached{false};
  std::atomic<std::uint64_t> published{0}, applied_remote{0};
  RedisCallLog calls{"approval",
                     "fleet approval sync failed; approvals are local until redis answers"};

  mutable std::mutex mutex;
  std::set<std::string, std::less<>> watching;  // published here, pending here

  bool failed(const RedisResult& result, bool shape_ok) {
    return !calls.note(result, shape_ok).empty();
  }

  bool unwatch(std::string_view id) {
    std::lock_guard lock(mutex);
    auto it = watching.find(id);
    if (it == watching.end()) return false;
    watching.erase(it);
    return true;
  }

  void publish(const ApprovalRecord& record) {
    if (!attached.load()) return;
    const auto now = std::chrono::system_clock::now();
    const auto remaining =
        std::max<std::int64_t>(1000, ms_since_epoch(record.expires) - ms_since_epoch(now));
    std::vector<std::string> args{record.id, std::to_string(remaining + options.ttl_margin.count()),
                                  std::to_string(ms_since_epoch(record.expires))};
    for (auto& field : approval_fields(record)) args.push_back(std::move(field));
    eval_script(sink, kApprovalCreateScript, create_sha,
                {options.keys.approval(record.id), options.keys.approvals()}, std::move(args),
                [self = shared_from_this(), id = record.id](RedisResult result) {
                  if (self->failed(result, result.reply.type == RedisReply::Type::integer)) return;
                  self->published.fetch_add(1);
                  std::lock_guard lock(self->mutex);
                  self->watching.insert(id);  // poll() drops it if it was decided meanwhile
                });
  }

  // A decision made here (expiry, local fallback) for a record the fleet knows.
  void write_decision(const ApprovalRecord& record) {
    eval_script(sink, kApprovalDecideScript, decide_sha, {options.keys.approval(record.id)},
                {to_string(record.state), record.actor, record.reason},
                [self = shared_from_this()](RedisResult result) {
                  self->failed(result, result.outcome == RedisOutcome::replied &&
                                           parse_approval_decide_reply(result.reply).valid);
                });
  }

  void on_local_decision(const ApprovalRecord& record) {
    if (attached.load() && unwatch(record.id)) write_decision(record);
  }

  // Applies a shared approve/deny to the local record (the waiting request sees it).
  void apply_remote(const ApprovalRecord& shared) {
    if (shared.state != ApprovalState::approved && shared.state != ApprovalState::denied) return;
    unwatch(shared.id);  // before decide(): its decided hook must not write it back
    const auto local = store.decide(shared.id, shared.state == ApprovalState::approved,
                                    shared.actor, shared.reason);
    if (local.status == ApprovalStore::DecideStatus::decided) applied_remote.fetch_add(1);
  }

  void poll_one(const std::string& id) {
    sink.execute({"HMGET", options.keys.approval(id), "state", "actor", "reason"},
                 [self = shared_from_this(), id](RedisResult result) {
                   const auto& e = result.reply.elements;
                   const bool shape = result.reply.type == RedisReply::Type::array && e.size() == 3;
                   if (self->failed(result, shape) || e[0].type != RedisReply::Type::string) return;
                   ApprovalRecord shared;
                   shared.id = id;
                   shared.state = parse_approval_state(e[0].text).value_or(ApprovalState::pending);
                   shared.actor = e[1].type == RedisReply::Type::string ? e[1].text : "fleet";
                   shared.reason = e[2].type == RedisReply::Type::string ? e[2].text : "";
                   if (!self->attached.load()) return;
                   self->apply_remote(shared);
                 });
  }
};

FleetApprovals::FleetApprovals(RedisCommandSink& sink, ApprovalStore& store,
                               FleetApprovalOptions options)
    : state_(std::make_shared<State>(sink, store, std::move(options))) {}

FleetApprovals::~FleetApprovals() {
  detach();
}

void FleetApprovals::attach() {
  state_->attached.store(true);
  state_->store.set_replication_hooks(
      [s = state_](const ApprovalRecord& r) { s->publish(r); },
      [s = state_](const ApprovalRecord& r) { s->on_local_decision(r); });
}

void FleetApprovals::detach() {
  if (!state_->attached.exchange(false)) return;
  state_->store.set_replication_hooks({}, {});
}

void FleetApprovals::poll() {
  if (!state_->attached.load()) return;
  std::vector<std::string> ids;
  {
    std::lock_guard lock(state_->mutex);
    ids.assign(state_->watching.begin(), state_->watching.end());
  }
  for (const auto& id : ids) {
    const auto local = state_->store.get(id);
    if (!local || local->state != ApprovalState::pending) {
      // Decided here before its CREATE was answered: the fleet learns the outcome now.
      if (state_->unwatch(id) && local) state_->write_decision(*local);
      continue;
    }
    state_->poll_one(id);
  }
}

FleetApprovals::DecideResult FleetApprovals::decide(std::string_view id, bool approve,
                                                    std::string_view actor,
                                                    std::string_view reason) {
  auto& s = *state_;
  const std::string actor_text(actor.substr(0, kMaxActorOrReason));
  const std::string reason_text(reason.substr(0, kMaxActorOrReason));
  const auto result = eval_script_blocking(
      s.sink, kApprovalDecideScript, s.decide_sha, {s.options.keys.approval(id)},
      {approve ? "approved" : "denied", actor_text, reason_text}, s.options.call_deadline);
  const auto reply = result.outcome == RedisOutcome::replied
                         ? parse_approval_decide_reply(result.reply)
                         : ApprovalDecideReply{};
  DecideResult out;
  if (s.failed(result, reply.valid) || reply.code == 0) {
    // Not in the shared store (created while Redis was down) or no answer: the local record,
    // if there is one, is decided as without a fleet.
    auto local = s.store.decide(id, approve, actor_text, reason_text);
    out.status = local.status;
    out.record = std::move(local.record);
    if (out.status == ApprovalStore::DecideStatus::not_found && !reply.valid) {
      out.unavailable = true;
      out.detail = redis_failure(result);
      if (out.detail.empty()) out.detail = "unexpected reply from redis";
    }
    return out;
  }
  out.status = reply.code == 1 ? ApprovalStore::DecideStatus::decided
                               : ApprovalStore::DecideStatus::already_decided;
  out.record = reply.record;
  s.apply_remote(*reply.record);  // when the record is local and still pending here
  if (auto local = s.store.get(id)) {
    // The local record carries what Redis never stores (raw arguments with include_args).
    if (local->state == reply.record->state) out.record = std::move(local);
  }
  return out;
}

std::optional<std::vector<ApprovalRecord>> FleetApprovals::list_pending() {
  auto& s = *state_;
  const auto result =
      eval_script_blocking(s.sink, kApprovalListScript, s.list_sha, {s.options.keys.approvals()},
                           {s.options.keys.approval_prefix(), std::to_string(s.options.list_limit)},
                           s.options.call_deadline);
  auto parsed = result.outcome == RedisOutcome::replied ? parse_approval_list_reply(result.reply)
                                                        : std::nullopt;
  if (s.failed(result, parsed.has_value())) return std::nullopt;
  return parsed;
}

FleetApprovalHealth FleetApprovals::health() const {
  FleetApprovalHealth h;
  h.errors = state_->calls.errors();
  h.published = state_->published.load();
  h.applied_remote = state_->applied_remote.load();
  std::lock_guard lock(state_->mutex);
  h.watching = state_->watching.size();
  return h;
}

}  // namespace sallyport::governance

// Fleet trust replication (contracts in fleet_trust.hpp).
#include "governance/fleet_trust.hpp"

#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <vector>

#include "governance/fleet_scripts.hpp"

namespace sallyport::governance {
namespace {

struct QueuedMutation {
  std::string id;  // marker: a resend is applied at most once
  TrustMutation mutation;
};

const char* op_name(TrustMutation::Kind kind) {
  switch (kind) {
    case TrustMutation::Kind::penalty:
      return "penalize";
    case TrustMutation::Kind::reset:
      return "reset";
    case TrustMutation::Kind::recovery:
      return "recover";
  }
  return "penalize";
}

}  // namespace

struct FleetTrust::State : std::enable_shared_from_this<FleetTrust::State> {
  State(RedisCommandSink& s, TrustRegistry& r, FleetTrustOptions o)
      : sink(s), registry(r), options(std::move(o)) {
    std::random_device rd;
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx",
                  static_cast<unsigned long long>((static_cast<std::uint64_t>(rd()) << 32) ^ rd()));
    id_prefix = buf;
  }

  RedisCommandSink& sink;
  TrustRegistry& registry;
  const FleetTrustOptions options;
  const std::string sha = script_sha1(kTrustScript);
  std::string id_prefix;  // random per process: mutation ids never collide across replicas
  std::atomic<std::uint64_t> next_id{1};
  std::atomic<bool> attached{false};
  std::atomic<std::uint64_t> adopted{0}, dropped{0};
  RedisCallLog calls{"trust", "fleet trust sync failed; local scores decide until redis answers"};

  struct AgentSync {
    std::int64_t version = 0;  // newest shared version adopted or written
    int in_flight = 0;         // write-throughs not answered yet
  };
  mutable std::mutex mutex;  // guards agents, queue
  std::map<std::string, AgentSync, std::less<>> agents;
  std::deque<QueuedMutation> queue;

  bool failed(const RedisResult& result, bool shape_ok) {
    return !calls.note(result, shape_ok).empty();
  }

  // Adopts a shared record unless local changes are still on their way to Redis.
  void maybe_adopt(const std::string& agent, const TrustReply& shared) {
    {
      std::lock_guard lock(mutex);
      auto& sync = agents[agent];
      if (!shared.exists || shared.version <= sync.version) return;
      sync.version = shared.version;
      if (sync.in_flight > 0 || !queue.empty()) return;
    }
    if (!attached.load()) return;
    const auto change = registry.adopt(agent, shared.score, shared.last_violation);
    if (change.after != change.before) adopted.fetch_add(1);
  }

  void write(QueuedMutation item) {
    const auto& cfg = registry.config();
    const int ceiling = cfg.recovery.ceiling.value_or(cfg.initial);
    std::vector<std::string> keys{options.keys.trust(item.mutation.agent),
                                  options.keys.trust_op(item.id)};
    std::vector<std::string> args{op_name(item.mutation.kind),
                                  std::to_string(item.mutation.amount),
                                  std::to_string(cfg.initial),
                                  std::to_string(options.ttl_seconds),
                                  std::to_string(cfg.recovery.pause_after_violation.count()),
                                  std::to_string(ceiling),
                                  std::to_string(cfg.recovery.max_per_hour)};
    {
      std::lock_guard lock(mutex);
      ++agents[item.mutation.agent].in_flight;
    }
    eval_script(sink, kTrustScript, sha, std::move(keys), std::move(args),
                [self = shared_from_this(), item](RedisResult result) mutable {
                  const auto reply = result.outcome == RedisOutcome::replied
                                         ? parse_trust_reply(result.reply)
                                         : TrustReply{};
                  {
                    std::lock_guard lock(self->mutex);
                    --self->agents[item.mutation.agent].in_flight;
                  }
                  if (self->failed(result, reply.valid)) {
                    self->enqueue(std::move(item));
                    return;
                  }
                  self->maybe_adopt(item.mutation.agent, reply);
                  self->flush();
                });
  }

  void enqueue(QueuedMutation item) {
    std::lock_guard lock(mutex);
    if (queue.size() >= options.max_pending) {
      queue.pop_front();
      dropped.fetch_add(1);
    }
    queue.push_back(std::move(item));
  }

  void flush() {
    std::deque<QueuedMutation> batch;
    {
      std::lock_guard lock(mutex);
      batch.swap(queue);
    }
    for (auto& item : batch) write(std::move(item));
  }

  void on_mutation(const TrustMutation& mutation) {
    if (!attached.load()) return;
    // A zero penalty (configured off) changes no score: not worth a round trip per request.
    if (mutation.kind == TrustMutation::Kind::penalty && mutation.amount == 0) return;
    write({id_prefix + ":" + std::to_string(next_id.fetch_add(1)), mutation});
  }

  void pull_one(const std::string& agent) {
    {
      std::lock_guard lock(mutex);
      if (!queue.empty()) return;
      if (auto it = agents.find(agent); it != agents.end() && it->second.in_flight > 0) return;
    }
    sink.execute({"HMGET", options.keys.trust(agent), "score", "lv", "v"},
                 [self = shared_from_this(), agent](RedisResult result) {
                   const auto reply = result.outcome == RedisOutcome::replied
                                          ? parse_trust_fields(result.reply)
                                          : TrustReply{};
                   if (self->failed(result, reply.valid)) return;
                   self->maybe_adopt(agent, reply);
                   self->flush();  // resends what an outage queued
                 });
  }
};

FleetTrust::FleetTrust(RedisCommandSink& sink, TrustRegistry& registry, FleetTrustOptions options)
    : state_(std::make_shared<State>(sink, registry, std::move(options))) {}

FleetTrust::~FleetTrust() {
  detach();
}

void FleetTrust::attach() {
  state_->attached.store(true);
  state_->registry.set_mutation_hook(
      [state = state_](const TrustMutation& mutation) { state->on_mutation(mutation); });
}

void FleetTrust::detach() {
  if (!state_->attached.exchange(false)) return;
  state_->registry.set_mutation_hook({});
}

void FleetTrust::pull(const std::string& own_agent) {
  if (!state_->attached.load()) return;
  bool queued = false;
  {
    std::lock_guard lock(state_->mutex);
    queued = !state_->queue.empty();
  }
  if (queued) {  // an outage left mutations behind: resend them before reading anything
    state_->flush();
    return;
  }
  bool own_known = false;
  for (const auto& status : state_->registry.list()) {
    own_known = own_known || status.agent == own_agent;
    state_->pull_one(status.agent);
  }
  if (!own_known) state_->pull_one(own_agent);
}

FleetTrustHealth FleetTrust::health() const {
  FleetTrustHealth h;
  h.errors = state_->calls.errors();
  h.adopted = state_->adopted.load();
  h.dropped = state_->dropped.load();
  std::lock_guard lock(state_->mutex);
  h.pending = state_->queue.size();
  return h;
}

}  // namespace sallyport::governance

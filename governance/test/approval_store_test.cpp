// Approval store: create/approve/deny/timeout with an injected clock, callbacks exactly once,
// listings without raw arguments, bounded pending queue.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "governance/approval_store.hpp"

namespace sallyport::governance {
namespace {

using namespace std::chrono_literals;

struct ManualClock {
  std::chrono::system_clock::time_point now = std::chrono::system_clock::time_point{} + 1000h;
  ApprovalStore::Clock fn() {
    return [this] { return now; };
  }
};

ApprovalRequest shell_request() {
  return ApprovalRequest{"sbx-1", "shell", R"({"command":"rm -rf /data","token":"sk-secret"})",
                         "shell-approval", "call_7"};
}

TEST(ApprovalStore, ApproveDeliversAllowExactlyOnce) {
  ManualClock clock;
  ApprovalStore store(ApprovalConfig{}, clock.fn());
  std::vector<ApprovalRecord> notified, decided, audited;
  store.set_notify_hook([&](const ApprovalRecord& r) { notified.push_back(r); });
  store.set_decision_hook([&](const ApprovalRecord& r) { audited.push_back(r); });
  auto record = store.create(shell_request(), [&](const ApprovalRecord& r) { decided.push_back(r); });
  ASSERT_TRUE(record);
  EXPECT_EQ(record->id.size(), 32u);
  EXPECT_EQ(record->state, ApprovalState::pending);
  EXPECT_EQ(record->expires - record->created, 120s);
  EXPECT_EQ(record->decision().reason, "tool:approval-required");
  EXPECT_FALSE(record->decision().allowed());
  ASSERT_EQ(notified.size(), 1u);
  EXPECT_EQ(notified[0].id, record->id);

  auto result = store.decide(record->id, true, "alice", "looked at it");
  EXPECT_EQ(result.status, ApprovalStore::DecideStatus::decided);
  ASSERT_EQ(decided.size(), 1u);
  const Decision d = decided[0].decision();
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.reason, "approval:approved");
  EXPECT_EQ(d.rule, "shell-approval");
  EXPECT_EQ(d.detail, "alice: looked at it");
  EXPECT_EQ(audited.size(), 1u);

  // A second decision changes nothing and fires nothing.
  auto again = store.decide(record->id, false, "mallory", "too late");
  EXPECT_EQ(again.status, ApprovalStore::DecideStatus::already_decided);
  EXPECT_EQ(again.record->state, ApprovalState::approved);
  EXPECT_EQ(decided.size(), 1u);
  EXPECT_TRUE(store.list_pending().empty());
}

TEST(ApprovalStore, DenyAndUnknownIds) {
  ManualClock clock;
  ApprovalStore store(ApprovalConfig{}, clock.fn());
  auto record = store.create(shell_request());
  ASSERT_TRUE(record);
  EXPECT_EQ(store.decide("0123456789abcdef0123456789abcdef", true, "a", "b").status,
            ApprovalStore::DecideStatus::not_found);
  auto result = store.decide(record->id, false, "bob", "no shell today");
  ASSERT_EQ(result.status, ApprovalStore::DecideStatus::decided);
  EXPECT_EQ(result.record->decision().reason, "approval:denied");
  EXPECT_FALSE(result.record->decision().allowed());
  EXPECT_EQ(store.get(record->id)->state, ApprovalState::denied);
}

TEST(ApprovalStore, TimeoutDeniesAndLateApprovalFails) {
  ManualClock clock;
  ApprovalStore store(ApprovalConfig{30s}, clock.fn());
  int callbacks = 0;
  Decision last;
  auto record = store.create(shell_request(), [&](const ApprovalRecord& r) {
    ++callbacks;
    last = r.decision();
  });
  ASSERT_TRUE(record);
  EXPECT_EQ(store.next_expiry(), record->expires);
  clock.now += 29s;
  EXPECT_TRUE(store.expire_due().empty());
  EXPECT_EQ(store.list_pending().size(), 1u);
  clock.now += 1s;
  auto expired = store.expire_due();
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].decision().reason, "approval:timeout");
  EXPECT_EQ(callbacks, 1);
  EXPECT_EQ(last.reason, "approval:timeout");
  EXPECT_FALSE(store.next_expiry());
  EXPECT_EQ(store.decide(record->id, true, "alice", "ok").status,
            ApprovalStore::DecideStatus::already_decided);
  EXPECT_EQ(callbacks, 1);
}

TEST(ApprovalStore, ExpiryAppliesLazilyWithoutTimer) {
  ManualClock clock;
  ApprovalStore store(ApprovalConfig{10s}, clock.fn());
  auto record = store.create(shell_request());
  clock.now += 11s;
  // No expire_due() call: approving after the deadline must still not go through.
  auto result = store.decide(record->id, true, "alice", "ok");
  EXPECT_EQ(result.status, ApprovalStore::DecideStatus::already_decided);
  EXPECT_EQ(result.record->state, ApprovalState::expired);
}

TEST(ApprovalStore, ListingsHashArgumentsUnlessConfigured) {
  ManualClock clock;
  ApprovalStore store(ApprovalConfig{}, clock.fn());
  store.create(shell_request());
  auto pending = store.list_pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_FALSE(pending[0].args);
  EXPECT_EQ(pending[0].args_sha256, args_sha256_hex(shell_request().args_json));
  EXPECT_EQ(args_sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

  ApprovalConfig with_args;
  with_args.include_args = true;
  ApprovalStore verbose(with_args, clock.fn());
  verbose.create(shell_request());
  EXPECT_EQ(verbose.list_pending().at(0).args, shell_request().args_json);
}

TEST(ApprovalStore, BoundedPendingQueueAndUniqueIds) {
  ManualClock clock;
  ApprovalConfig config;
  config.max_pending = 3;
  ApprovalStore store(config, clock.fn());
  std::set<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.insert(store.create(shell_request())->id);
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_FALSE(store.create(shell_request()));
  store.decide(*ids.begin(), false, "a", "b");
  EXPECT_TRUE(store.create(shell_request()));
}

TEST(ApprovalStore, WaitReturnsWhenAnotherThreadDecides) {
  ApprovalStore store;  // real clock
  auto record = store.create(shell_request());
  ASSERT_TRUE(record);
  std::thread approver([&] { store.decide(record->id, true, "alice", "fine"); });
  auto waited = store.wait(record->id, std::chrono::milliseconds(60000));
  approver.join();
  ASSERT_TRUE(waited);
  EXPECT_EQ(waited->state, ApprovalState::approved);
}

TEST(ApprovalStore, CallbackMayReenterStore) {
  ManualClock clock;
  ApprovalStore store(ApprovalConfig{}, clock.fn());
  std::size_t pending_seen = 99;
  auto record = store.create(shell_request(), [&](const ApprovalRecord&) { pending_seen = store.list_pending().size(); });
  store.decide(record->id, true, "alice", std::string(1000, 'x'));
  EXPECT_EQ(pending_seen, 0u);
  EXPECT_EQ(store.get(record->id)->reason.size(), 256u);  // untrusted text is bounded
}

}  // namespace
}  // namespace sallyport::governance

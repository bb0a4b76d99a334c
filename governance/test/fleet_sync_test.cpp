// Fleet trust scores and approval records (issue 12): Lua reply decoding, record fields, and
// the replication logic of FleetTrust / FleetApprovals over a fake Redis command sink.
#include <gtest/gtest.h>

#include "governance/fleet_approvals.hpp"
#include "governance/fleet_scripts.hpp"
#include "governance/fleet_trust.hpp"
#include "governance/test/fake_redis_sink.hpp"

namespace sallyport::governance {
namespace {

using Reply = RedisReply;

Reply ints(std::initializer_list<std::int64_t> values) {
  std::vector<Reply> e;
  for (auto v : values) e.push_back(Reply::make_integer(v));
  return Reply::make_array(std::move(e));
}

Reply strings(const std::vector<std::string>& values) {
  std::vector<Reply> e;
  for (const auto& v : values) e.push_back(Reply::make_string(v));
  return Reply::make_array(std::move(e));
}

Reply nils(std::size_t n) {
  return Reply::make_array(std::vector<Reply>(n));
}

const RedisKeys kKeys{"sallyport", "acme", "sb-1"};

TEST(FleetKeysTest, TrustAndApprovalKeysShareTheTenantHashTag) {
  EXPECT_EQ(kKeys.trust("agent 1"), "sallyport:{acme}:trust:agent%201");
  EXPECT_EQ(kKeys.trust_op("ab:1"), "sallyport:{acme}:trust-op:ab%3A1");
  EXPECT_EQ(kKeys.approval("0a1b"), "sallyport:{acme}:approval:0a1b");
  EXPECT_EQ(kKeys.approval("0a1b"), kKeys.approval_prefix() + "0a1b");
  EXPECT_EQ(kKeys.approvals(), "sallyport:{acme}:approvals");
}

TEST(FleetScriptsTest, TrustReplyDecoding) {
  auto r = parse_trust_reply(ints({400, 1796000000, 7, 1}));
  ASSERT_TRUE(r.valid);
  EXPECT_TRUE(r.exists && r.applied);
  EXPECT_EQ(r.score, 400);
  EXPECT_EQ(r.last_violation, 1796000000);
  EXPECT_EQ(r.version, 7);
  EXPECT_FALSE(parse_trust_reply(ints({400, 0, 7, 0})).applied);
  EXPECT_FALSE(parse_trust_reply(ints({400, 0, 7})).valid);      // wrong length
  EXPECT_FALSE(parse_trust_reply(ints({1001, 0, 7, 1})).valid);  // out of range
  EXPECT_FALSE(parse_trust_reply(ints({-1, 0, 7, 1})).valid);
  EXPECT_FALSE(parse_trust_reply(Reply::make_error("ERR unknown trust op")).valid);
  EXPECT_FALSE(parse_trust_reply(Reply::make_integer(1)).valid);
}

TEST(FleetScriptsTest, TrustFieldsDecoding) {
  auto r = parse_trust_fields(strings({"650", "1796000000", "3"}));
  ASSERT_TRUE(r.valid && r.exists);
  EXPECT_EQ(r.score, 650);
  EXPECT_EQ(r.version, 3);
  auto missing = parse_trust_fields(nils(3));
  EXPECT_TRUE(missing.valid);
  EXPECT_FALSE(missing.exists);
  EXPECT_FALSE(parse_trust_fields(strings({"6x0", "0", "1"})).valid);
  EXPECT_FALSE(parse_trust_fields(strings({"600", "0"})).valid);
}

ApprovalRecord sample_record() {
  ApprovalRecord r;
  r.id = "00112233445566778899aabbccddeeff";
  r.sandbox = "sb-1";
  r.tool = "deploy";
  r.args_sha256 = std::string(64, 'a');
  r.args = "{\"api_key\":\"secret\"}";
  r.args_summary = "{\"env\":\"prod\"}";
  r.rule = "deploy-needs-approval";
  r.call_id = "call_1";
  r.created = std::chrono::system_clock::time_point(std::chrono::milliseconds(1796000000123));
  r.expires = r.created + std::chrono::seconds(120);
  return r;
}

Reply flat(std::vector<std::string> prefix_state, const ApprovalRecord& r) {
  auto fields = approval_fields(r);
  fields.insert(fields.end(), prefix_state.begin(), prefix_state.end());
  return strings(fields);
}

TEST(FleetScriptsTest, ApprovalFieldsRoundTripWithoutRawArguments) {
  const auto r = sample_record();
  const auto fields = approval_fields(r);
  for (const auto& f : fields) EXPECT_EQ(f.find("secret"), std::string::npos);
  auto back = approval_from_fields(flat({"state", "pending"}, r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->id, r.id);
  EXPECT_EQ(back->tool, "deploy");
  EXPECT_EQ(back->rule, r.rule);
  EXPECT_EQ(back->args_summary, r.args_summary);
  EXPECT_EQ(back->created, r.created);
  EXPECT_EQ(back->expires, r.expires);
  EXPECT_EQ(back->state, ApprovalState::pending);
  EXPECT_FALSE(back->args);
  EXPECT_FALSE(approval_from_fields(flat({}, r)));                    // no state
  EXPECT_FALSE(approval_from_fields(flat({"state", "maybe"}, r)));    // unknown state
  EXPECT_FALSE(approval_from_fields(strings({"id", "x", "state"})));  // odd length
}

TEST(FleetScriptsTest, ApprovalDecideReplyDecoding) {
  const auto r = sample_record();
  EXPECT_EQ(parse_approval_decide_reply(ints({0})).code, 0);
  EXPECT_TRUE(parse_approval_decide_reply(ints({0})).valid);
  auto decided =
      flat({"state", "approved", "actor", "ops", "reason", "ok", "decided_ms", "1796000001000"}, r);
  decided.elements.insert(decided.elements.begin(), Reply::make_integer(1));
  auto d = parse_approval_decide_reply(decided);
  ASSERT_TRUE(d.valid && d.record);
  EXPECT_EQ(d.code, 1);
  EXPECT_EQ(d.record->state, ApprovalState::approved);
  EXPECT_EQ(d.record->actor, "ops");
  ASSERT_TRUE(d.record->decided);
  decided.elements[0] = Reply::make_integer(2);
  EXPECT_EQ(parse_approval_decide_reply(decided).code, 2);
  decided.elements[0] = Reply::make_integer(3);
  EXPECT_FALSE(parse_approval_decide_reply(decided).valid);
  EXPECT_FALSE(parse_approval_decide_reply(ints({1})).valid);  // decided but no record
  EXPECT_FALSE(parse_approval_decide_reply(Reply::make_error("NOSCRIPT")).valid);
}

TEST(FleetScriptsTest, ApprovalListReplyDecoding) {
  const auto r = sample_record();
  auto list = Reply::make_array({flat({"state", "pending"}, r), strings({"garbage"})});
  auto parsed = parse_approval_list_reply(list);
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->size(), 1u);  // malformed entries skipped
  EXPECT_EQ((*parsed)[0].id, r.id);
  EXPECT_FALSE(parse_approval_list_reply(Reply::make_integer(0)));
}

std::unique_ptr<TrustRegistry> registry() {
  TrustConfig config;
  config.initial = 900;
  auto opened = TrustRegistry::open(config);
  return std::move(opened.registry);
}

TEST(FleetTrustTest, PenaltyIsWrittenThroughAndTheSharedScoreAdopted) {
  FakeSink sink;
  auto trust = registry();
  FleetTrust fleet(sink, *trust, {kKeys});
  fleet.attach();
  trust->penalize("sb-1", TrustEvent::jailbreak, "shield");
  EXPECT_EQ(trust->status("sb-1").score, 700);
  ASSERT_EQ(sink.calls.size(), 1u);
  const auto& argv = sink.calls[0].argv;
  EXPECT_EQ(argv[0], "EVALSHA");
  EXPECT_EQ(argv[2], "2");
  EXPECT_EQ(argv[3], "sallyport:{acme}:trust:sb-1");
  EXPECT_EQ(argv[5], "penalize");
  EXPECT_EQ(argv[6], "200");
  // Another replica had penalised too: Redis answers the combined score.
  sink.reply(ints({500, 1796000000, 2, 1}));
  EXPECT_EQ(trust->status("sb-1").score, 500);

  // A pull adopts a newer version (a reset on another replica), never an older one.
  fleet.pull("sb-1");
  ASSERT_EQ(sink.calls.size(), 1u);
  EXPECT_EQ(sink.calls[0].argv[0], "HMGET");
  sink.reply(strings({"900", "0", "3"}));
  EXPECT_EQ(trust->status("sb-1").score, 900);
  fleet.pull("sb-1");
  sink.reply(strings({"100", "0", "2"}));
  EXPECT_EQ(trust->status("sb-1").score, 900);
  EXPECT_EQ(fleet.health().adopted, 2u);
}

TEST(FleetTrustTest, OutageQueuesMutationsAndNeverUndoesThem) {
  FakeSink sink;
  auto trust = registry();
  std::vector<TrustChange> tiers;
  trust->set_tier_callback([&](const TrustChange& c) { tiers.push_back(c); });
  FleetTrust fleet(sink, *trust, {kKeys});
  fleet.attach();
  trust->penalize("sb-1", TrustEvent::imds_attempt);  // 900 -> 750
  sink.fail();
  EXPECT_EQ(trust->status("sb-1").score, 750);  // local floor keeps working
  EXPECT_EQ(fleet.health().pending, 1u);
  fleet.pull("sb-1");  // resends the queued mutation instead of reading
  ASSERT_EQ(sink.calls.size(), 1u);
  EXPECT_EQ(sink.calls[0].argv[5], "penalize");
  sink.fail();
  EXPECT_EQ(fleet.health().pending, 1u);
  trust->penalize("sb-1", TrustEvent::budget_exhausted);  // 740; this call succeeds
  ASSERT_EQ(sink.calls.size(), 1u);
  sink.reply(ints({740, 1796000000, 1, 1}));  // succeeded: the queued one is resent
  ASSERT_EQ(sink.calls.size(), 1u);
  EXPECT_EQ(sink.calls[0].argv[5], "penalize");
  EXPECT_EQ(sink.calls[0].argv[6], "150");
  sink.reply(ints({590, 1796000000, 2, 1}));
  EXPECT_EQ(trust->status("sb-1").score, 590);
  EXPECT_EQ(fleet.health().pending, 0u);
  ASSERT_FALSE(tiers.empty());
  EXPECT_EQ(tiers.back().cause, "fleet");  // trusted -> standard through the shared score
}

TEST(FleetTrustTest, DetachedRegistryIsLocalOnly) {
  FakeSink sink;
  auto trust = registry();
  {
    FleetTrust fleet(sink, *trust, {kKeys});
    fleet.attach();
  }
  trust->reset("sb-1", 100, "ops", "test");
  EXPECT_TRUE(sink.calls.empty());
  EXPECT_EQ(trust->status("sb-1").score, 100);
}

TEST(FleetApprovalsTest, DecisionMadeElsewhereReachesTheWaitingRecord) {
  FakeSink sink;
  ApprovalStore store;
  FleetApprovals fleet(sink, store, {kKeys});
  fleet.attach();
  auto record = store.create({"sb-1", "deploy", "{\"env\":\"prod\"}", "needs-approval", "call_1"});
  ASSERT_TRUE(record);
  ASSERT_EQ(sink.calls.size(), 1u);
  EXPECT_EQ(sink.calls[0].argv[3], kKeys.approval(record->id));
  EXPECT_EQ(sink.calls[0].argv[4], kKeys.approvals());
  sink.reply(Reply::make_integer(1));
  EXPECT_EQ(fleet.health().watching, 1u);
  fleet.poll();
  ASSERT_EQ(sink.calls.size(), 1u);
  sink.reply(strings({"pending", "", ""}));
  EXPECT_EQ(store.get(record->id)->state, ApprovalState::pending);
  fleet.poll();
  sink.reply(strings({"approved", "ops", "looks fine"}));
  const auto after = store.get(record->id);
  EXPECT_EQ(after->state, ApprovalState::approved);
  EXPECT_EQ(after->actor, "ops");
  EXPECT_TRUE(sink.calls.empty());  // not written back
  EXPECT_EQ(fleet.health().applied_remote, 1u);
}

TEST(FleetApprovalsTest, DecideGoesThroughRedisAndFallsBackToLocal) {
  FakeSink sink;
  ApprovalStore store;
  FleetApprovals fleet(sink, store,
                       {kKeys, std::chrono::milliseconds(60000), std::chrono::milliseconds(200)});
  fleet.attach();
  auto record = store.create({"sb-1", "deploy", "{}", "needs-approval", "call_1"});
  sink.reply(Reply::make_integer(1));
  // Redis: another decider won first (denied) -> 409 here, and the local record follows it.
  auto stored = *record;
  sink.auto_reply = [&](const std::vector<std::string>& argv) {
    EXPECT_EQ(argv[0], "EVALSHA");
    EXPECT_EQ(argv[4], "approved");
    auto out = flat({"state", "denied", "actor", "alice", "reason", "no"}, stored);
    out.elements.insert(out.elements.begin(), Reply::make_integer(2));
    return RedisResult{RedisOutcome::replied, out, {}};
  };
  auto result = fleet.decide(record->id, true, "bob", "yes");
  EXPECT_EQ(result.status, ApprovalStore::DecideStatus::already_decided);
  EXPECT_EQ(result.record->state, ApprovalState::denied);
  EXPECT_EQ(store.get(record->id)->state, ApprovalState::denied);

  // Redis down: a local record is decided locally; an unknown one is "unavailable".
  sink.auto_reply = [](const std::vector<std::string>&) {
    return RedisResult{RedisOutcome::unavailable, {}, "no live connection"};
  };
  auto local = store.create({"sb-1", "deploy", "{}", "needs-approval", "call_2"});
  result = fleet.decide(local->id, true, "bob", "yes");
  EXPECT_EQ(result.status, ApprovalStore::DecideStatus::decided);
  EXPECT_FALSE(result.unavailable);
  EXPECT_EQ(store.get(local->id)->state, ApprovalState::approved);
  result = fleet.decide("ffff", true, "bob", "yes");
  EXPECT_TRUE(result.unavailable);
  EXPECT_NE(result.detail.find("unavailable"), std::string::npos);
  EXPECT_FALSE(fleet.list_pending());
}

}  // namespace
}  // namespace sallyport::governance

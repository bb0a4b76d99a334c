#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <set>

#include "governance/redis_scripts.hpp"
#include "governance/redis_state_backend.hpp"
#include "governance/state_backend.hpp"
#include "governance/test/fake_redis_sink.hpp"

namespace sallyport::governance {
namespace {

using Reply = RedisReply;

Reply admit_reply(std::int64_t code, std::int64_t a, std::optional<std::int64_t> b = std::nullopt) {
  std::vector<Reply> e{Reply::make_integer(code), Reply::make_integer(a)};
  if (b) e.push_back(Reply::make_integer(*b));
  return Reply::make_array(std::move(e));
}

RedisBackendOptions options(OnUnavailable policy = OnUnavailable::fail_closed) {
  RedisBackendOptions o;
  o.keys = {"sallyport", "acme", "sb-1"};
  o.tenant_daily_tokens = 1000;
  o.sandbox_daily_tokens = 500;
  o.tenant_rpm = 60;
  o.tenant_tpm = 6000;
  o.on_unavailable = policy;
  // 2026-11-24 12:00 UTC
  o.clock = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(1795521600)); };
  return o;
}

struct Captured {
  std::optional<AdmitResult> result;
  StateBackend::AdmitDone done() {
    return [this](AdmitResult r) { result = std::move(r); };
  }
};

TEST(RedisKeysTest, NamespacedPerTenantWithHashTagAndDay) {
  RedisKeys k{"sallyport", "acme", "sb-1"};
  EXPECT_EQ(k.tenant_budget(20416), "sallyport:{acme}:budget:2025-11-24");
  EXPECT_EQ(k.sandbox_budget(20416), "sallyport:{acme}:sandbox:sb-1:budget:2025-11-24");
  EXPECT_EQ(k.rate(), "sallyport:{acme}:rate");
  EXPECT_EQ(k.settled("ab:1"), "sallyport:{acme}:settled:ab%3A1");
}

TEST(RedisKeysTest, HostileIdentityCannotEscapeItsNamespace) {
  RedisKeys k{"sallyport", "evil}:{other", "x:y"};
  EXPECT_EQ(k.rate(), "sallyport:{evil%7D%3A%7Bother}:rate");
  EXPECT_EQ(escape_key_part("a b\r\n"), "a%20b%0D%0A");
  EXPECT_EQ(escape_key_part("tenant-1.prod_x"), "tenant-1.prod_x");
}

TEST(RedisScriptsTest, Sha1IsTheEvalshaName) {
  EXPECT_EQ(script_sha1(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(script_sha1(kAdmitScript).size(), 40u);
  EXPECT_NE(script_sha1(kAdmitScript), script_sha1(kSettleScript));
}

TEST(RedisScriptsTest, AdmitReplyShapes) {
  auto ok = parse_admit_reply(admit_reply(0, 10, 20));
  EXPECT_TRUE(ok.valid);
  EXPECT_EQ(ok.code, 0);
  EXPECT_EQ(ok.a, 10);
  EXPECT_EQ(ok.b, 20);
  EXPECT_FALSE(parse_admit_reply(admit_reply(0, 10)).valid);   // admitted needs both remainders
  EXPECT_FALSE(parse_admit_reply(admit_reply(9, 1)).valid);    // unknown code
  EXPECT_FALSE(parse_admit_reply(Reply::make_status("OK")).valid);
  EXPECT_FALSE(parse_admit_reply(Reply::make_array({Reply::make_string("0"), Reply::make_integer(1)})).valid);
  EXPECT_TRUE(is_noscript(Reply::make_error("NOSCRIPT No matching script. Please use EVAL.")));
  EXPECT_FALSE(is_noscript(Reply::make_error("ERR wrong number of arguments")));
}

TEST(RedisScriptsTest, DenialCodesMapToDocumentedReasons) {
  struct Case { int code; std::int64_t a; const char* reason; const char* rule; std::int64_t retry; };
  for (const auto& c : {Case{1, 1500, "rate:rpm", "tenant-rpm", 2}, Case{2, 10, "rate:tpm", "tenant-tpm", 1},
                        Case{3, 7, "budget:daily", "tenant-daily", 0},
                        Case{4, 0, "budget:daily", "sandbox-daily", 0},
                        Case{5, 0, "rate:tpm", "tpm:exceeds-burst", 60}}) {
    AdmitReply r{true, c.code, c.a, 0};
    const auto result = admit_result_from_reply(r);
    EXPECT_FALSE(result.decision.allowed()) << c.code;
    EXPECT_EQ(result.decision.reason, c.reason) << c.code;
    EXPECT_EQ(result.decision.rule, c.rule) << c.code;
    EXPECT_EQ(result.retry_after_seconds, c.retry) << c.code;
  }
  EXPECT_TRUE(admit_result_from_reply({true, 0, 1, 2}).decision.allowed());
}

TEST(RedisStateBackendTest, AdmitSendsEvalshaWithTenantKeysAndLimits) {
  FakeSink sink;
  RedisStateBackend backend(sink, options());
  Captured got;
  backend.admit({120, 100, std::nullopt}, got.done());
  ASSERT_EQ(sink.calls.size(), 1u);
  const auto& argv = sink.calls.front().argv;
  ASSERT_EQ(argv.size(), 13u);
  EXPECT_EQ(argv[0], "EVALSHA");
  EXPECT_EQ(argv[1], script_sha1(kAdmitScript));
  EXPECT_EQ(argv[2], "3");
  EXPECT_EQ(argv[3], "sallyport:{acme}:budget:2026-11-24");
  EXPECT_EQ(argv[4], "sallyport:{acme}:sandbox:sb-1:budget:2026-11-24");
  EXPECT_EQ(argv[5], "sallyport:{acme}:rate");
  EXPECT_EQ((std::vector<std::string>(argv.begin() + 6, argv.end())),
            (std::vector<std::string>{"1000", "500", "100", "172800", "60", "6000", "120"}));
  EXPECT_FALSE(got.result);  // asynchronous: nothing until Redis answers
  sink.reply(admit_reply(0, 900, 400));
  ASSERT_TRUE(got.result);
  EXPECT_TRUE(got.result->decision.allowed());
  ASSERT_TRUE(got.result->ticket);
  EXPECT_TRUE(got.result->ticket->shared);
  EXPECT_EQ(got.result->ticket->reserved_tokens, 100);
  EXPECT_EQ(got.result->ticket->rate_tokens, 120);
}

TEST(RedisStateBackendTest, NoscriptFallsBackToEvalWithTheScriptText) {
  FakeSink sink;
  RedisStateBackend backend(sink, options());
  Captured got;
  backend.admit({1, 1, std::nullopt}, got.done());
  sink.reply(Reply::make_error("NOSCRIPT No matching script. Please use EVAL."));
  ASSERT_EQ(sink.calls.size(), 1u);
  EXPECT_EQ(sink.calls.front().argv[0], "EVAL");
  EXPECT_EQ(sink.calls.front().argv[1], std::string(kAdmitScript));
  EXPECT_EQ(sink.calls.front().argv[3], "sallyport:{acme}:budget:2026-11-24");
  EXPECT_FALSE(got.result);
  sink.reply(admit_reply(3, 5));
  ASSERT_TRUE(got.result);
  EXPECT_EQ(got.result->decision.reason, "budget:daily");
  EXPECT_FALSE(got.result->ticket);
}

TEST(RedisStateBackendTest, FailClosedDeniesWithUnavailableWhenRedisTimesOut) {
  FakeSink sink;
  RedisStateBackend backend(sink, options(OnUnavailable::fail_closed));
  Captured got;
  backend.admit({1, 1, std::nullopt}, got.done());
  sink.answer({RedisOutcome::timeout, {}, "no reply within 50ms"});
  ASSERT_TRUE(got.result);
  EXPECT_FALSE(got.result->decision.allowed());
  EXPECT_EQ(got.result->decision.reason, "budget:unavailable");  // → 503 overloaded
  EXPECT_EQ(got.result->decision.rule, "state_backend:redis");
  EXPECT_TRUE(got.result->backend_unavailable);
  EXPECT_EQ(got.result->retry_after_seconds, 1);
  EXPECT_EQ(backend.health().errors, 1u);
}

TEST(RedisStateBackendTest, FailOpenAdmitsWithoutTheStoreAndSettlesNothingThere) {
  FakeSink sink;
  sink.is_connected = false;
  RedisStateBackend backend(sink, options(OnUnavailable::fail_open));
  Captured got;
  backend.admit({1, 1, std::nullopt}, got.done());
  sink.answer({RedisOutcome::unavailable, {}, "no connection to redis"});
  ASSERT_TRUE(got.result);
  EXPECT_TRUE(got.result->decision.allowed());
  EXPECT_TRUE(got.result->backend_unavailable);
  ASSERT_TRUE(got.result->ticket);
  EXPECT_FALSE(got.result->ticket->shared);
  backend.settle(*got.result->ticket, 50);
  EXPECT_TRUE(sink.calls.empty());
  const auto h = backend.health();
  EXPECT_FALSE(h.up);
  EXPECT_EQ(h.admitted_without_store, 1u);
  EXPECT_NE(h.detail.find("no connection"), std::string::npos);
}

TEST(RedisStateBackendTest, ScriptErrorReplyCountsAsUnavailable) {
  FakeSink sink;
  RedisStateBackend backend(sink, options());
  Captured got;
  backend.admit({1, 1, std::nullopt}, got.done());
  sink.reply(Reply::make_error("ERR Error running script"));
  ASSERT_TRUE(got.result);
  EXPECT_EQ(got.result->decision.reason, "budget:unavailable");
}

TEST(RedisStateBackendTest, SettleChargesActualAndCorrectsTpm) {
  FakeSink sink;
  RedisStateBackend backend(sink, options());
  Captured got;
  backend.admit({300, 250, std::nullopt}, got.done());
  sink.reply(admit_reply(0, 1, 1));
  backend.settle(*got.result->ticket, 80);
  ASSERT_EQ(sink.calls.size(), 1u);
  const auto& argv = sink.calls.front().argv;
  ASSERT_EQ(argv.size(), 14u);
  EXPECT_EQ(argv[1], script_sha1(kSettleScript));
  EXPECT_EQ(argv[2], "6");
  EXPECT_EQ(argv[8], "sallyport:{acme}:settled:" + escape_key_part(got.result->ticket->id));
  EXPECT_EQ((std::vector<std::string>(argv.begin() + 9, argv.end())),
            (std::vector<std::string>{"250", "80", "172800", "6000", "-220"}));
}

TEST(RedisStateBackendTest, UndeliveredSettleIsRetriedAfterTheNextSuccess) {
  FakeSink sink;
  RedisStateBackend backend(sink, options());
  Captured first;
  backend.admit({10, 10, std::nullopt}, first.done());
  sink.reply(admit_reply(0, 1, 1));
  backend.release(*first.result->ticket);
  sink.answer({RedisOutcome::unavailable, {}, "connection lost"});
  EXPECT_EQ(backend.health().settles_pending, 1u);
  Captured second;
  backend.admit({10, 10, std::nullopt}, second.done());
  sink.reply(admit_reply(0, 1, 1));
  EXPECT_EQ(backend.health().settles_pending, 0u);
  ASSERT_EQ(sink.calls.size(), 1u);  // the queued settle went out again, same ticket marker
  EXPECT_EQ(sink.calls.front().argv[8], "sallyport:{acme}:settled:" + escape_key_part(first.result->ticket->id));
  EXPECT_EQ(sink.calls.front().argv[10], "0");  // release charges nothing
}

TEST(RedisStateBackendTest, TicketIdsAreUniqueAcrossBackends) {
  FakeSink sink;
  RedisStateBackend a(sink, options());
  RedisStateBackend b(sink, options());
  std::set<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    for (auto* backend : {&a, &b}) {
      Captured got;
      backend->admit({1, 1, std::nullopt}, got.done());
      sink.reply(admit_reply(0, 1, 1));
      ids.insert(got.result->ticket->id);
    }
  }
  EXPECT_EQ(ids.size(), 100u);
}

TEST(LocalStateBackendTest, WrapsLedgerAndRateLimiterAllOrNothing) {
  auto opened = BudgetLedger::open({"", "sb", {0, 100, OverMaxTokens::reject, 4096}, {}, Durability::write_only});
  ASSERT_TRUE(opened.ledger);
  auto now = std::chrono::steady_clock::time_point{};
  RateLimiter limiter({0, 1000, 0, 0}, [&] { return now; });
  LocalStateBackend backend(opened.ledger.get(), &limiter);
  std::optional<AdmitResult> got;
  backend.admit({60, 0, ReserveRequest{20, 40}}, [&](AdmitResult r) { got = std::move(r); });
  ASSERT_TRUE(got && got->decision.allowed());  // completes inline
  EXPECT_EQ(got->ticket->reserved_tokens, 60);
  // Budget full (60 reserved + 60 > 100): denied, and the tpm tokens are given back.
  std::optional<AdmitResult> denied;
  backend.admit({60, 0, ReserveRequest{20, 40}}, [&](AdmitResult r) { denied = std::move(r); });
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->decision.reason, "budget:daily");
  EXPECT_EQ(limiter.headers().remaining_tokens, 940);
  backend.settle(*got->ticket, 30);
  const auto snap = opened.ledger->snapshot();
  EXPECT_EQ(snap.spent_today, 30);
  EXPECT_EQ(snap.reserved_in_flight, 0);
  EXPECT_EQ(limiter.headers().remaining_tokens, 970);
}

TEST(StateBackendTest, UtcDayNumberAndPolicyNames) {
  EXPECT_EQ(utc_day_number(std::chrono::system_clock::time_point(std::chrono::seconds(86399))), 0);
  EXPECT_EQ(utc_day_number(std::chrono::system_clock::time_point(std::chrono::seconds(86400))), 1);
  EXPECT_EQ(parse_on_unavailable("fail_open"), OnUnavailable::fail_open);
  EXPECT_EQ(parse_on_unavailable("fail_closed"), OnUnavailable::fail_closed);
  EXPECT_FALSE(parse_on_unavailable("open"));
}

}  // namespace
}  // namespace sallyport::governance

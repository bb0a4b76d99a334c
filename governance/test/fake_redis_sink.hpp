#pragma once
// A RedisCommandSink for unit tests: records every command so the test can answer them one by
// one (reply/answer/fail, oldest first), or answers inline through `auto_reply` when set.
#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "governance/redis_command.hpp"

namespace sallyport::governance {

class FakeSink : public RedisCommandSink {
 public:
  struct Call {
    std::vector<std::string> argv;
    Done done;
  };
  void execute(std::vector<std::string> argv, Done done) override {
    if (auto_reply) {
      done(auto_reply(argv));
      return;
    }
    calls.push_back({std::move(argv), std::move(done)});
  }
  bool connected() const override { return is_connected; }

  // Answers the oldest unanswered call.
  void answer(RedisResult result) {
    ASSERT_FALSE(calls.empty());
    auto call = std::move(calls.front());
    calls.pop_front();
    call.done(std::move(result));
  }
  void reply(RedisReply r) { answer({RedisOutcome::replied, std::move(r), {}}); }
  void fail() { answer({RedisOutcome::unavailable, {}, "no live connection"}); }

  std::deque<Call> calls;
  bool is_connected = true;
  std::function<RedisResult(const std::vector<std::string>&)> auto_reply;
};

}  // namespace sallyport::governance

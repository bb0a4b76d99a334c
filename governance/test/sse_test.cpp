#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "governance/sse.hpp"

namespace sallyport::governance {
namespace {

// Realistic OpenAI chat stream with include_usage (CRLF line endings, as some proxies send).
const std::string kOpenAiStream =
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,"
    "\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
    "\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\r\n\r\n"
    ": keep-alive\r\n\r\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}],\"usage\":null}\r\n\r\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}],\"usage\":null}\r\n\r\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[],"
    "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\r\n\r\n"
    "data: [DONE]\r\n\r\n";

// Realistic Anthropic messages stream (LF line endings, event: lines).
const std::string kAnthropicStream =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\","
    "\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4\",\"stop_reason\":null,"
    "\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
    "\"text\":\"\"}}\n\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"Hello\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
    "\"usage\":{\"output_tokens\":15}}\n\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n\n";

struct Parsed {
  std::vector<SseEvent> events;
  SseTail tail;
};

Parsed parse_in_pieces(const std::string& input, const std::vector<std::size_t>& cuts) {
  SseParser parser;
  Parsed parsed;
  std::size_t start = 0;
  for (std::size_t cut : cuts) {
    EXPECT_FALSE(parser.feed(std::string_view(input).substr(start, cut - start), parsed.events));
    start = cut;
  }
  EXPECT_FALSE(parser.feed(std::string_view(input).substr(start), parsed.events));
  parsed.tail = parser.finish();
  return parsed;
}

void expect_same_events(const std::vector<SseEvent>& a, const std::vector<SseEvent>& b,
                        std::size_t cut) {
  ASSERT_EQ(a.size(), b.size()) << "split at byte " << cut;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].event, b[i].event) << "event " << i << " split at " << cut;
    EXPECT_EQ(a[i].data, b[i].data) << "event " << i << " split at " << cut;
    EXPECT_EQ(a[i].has_data, b[i].has_data) << "event " << i << " split at " << cut;
  }
}

std::string concat_raw(const Parsed& parsed) {
  std::string all;
  for (const auto& e : parsed.events) all += e.raw;
  return all + parsed.tail.pending_raw;
}

TEST(SseParser, OpenAiStreamWhole) {
  const Parsed parsed = parse_in_pieces(kOpenAiStream, {});
  ASSERT_EQ(parsed.events.size(), 6u);
  EXPECT_FALSE(parsed.events[1].has_data);  // the keep-alive comment block
  EXPECT_EQ(parsed.events[1].raw, ": keep-alive\r\n\r\n");
  EXPECT_EQ(parsed.events[0].event, "message");
  EXPECT_NE(parsed.events[4].data.find("\"completion_tokens\":2"), std::string::npos);
  EXPECT_TRUE(parsed.events[5].is_done());
  EXPECT_FALSE(parsed.events[4].is_done());
  EXPECT_FALSE(parsed.tail.truncated);
  EXPECT_EQ(concat_raw(parsed), kOpenAiStream);
}

TEST(SseParser, AnthropicStreamWhole) {
  const Parsed parsed = parse_in_pieces(kAnthropicStream, {});
  ASSERT_EQ(parsed.events.size(), 7u);
  EXPECT_EQ(parsed.events[0].event, "message_start");
  EXPECT_EQ(parsed.events[2].event, "ping");
  EXPECT_EQ(parsed.events[5].event, "message_delta");
  EXPECT_EQ(parsed.events[6].data, "{\"type\":\"message_stop\"}");
  EXPECT_EQ(concat_raw(parsed), kAnthropicStream);
}

// Every single split point, plus byte-by-byte, gives the same events and the same bytes.
TEST(SseParser, SplitAtEveryByteBoundary) {
  for (const std::string* stream : {&kOpenAiStream, &kAnthropicStream}) {
    const Parsed whole = parse_in_pieces(*stream, {});
    for (std::size_t cut = 0; cut <= stream->size(); ++cut) {
      const Parsed split = parse_in_pieces(*stream, {cut});
      expect_same_events(whole.events, split.events, cut);
      ASSERT_EQ(concat_raw(split), *stream) << "split at " << cut;
      ASSERT_FALSE(split.tail.truncated);
    }
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < stream->size(); ++i) every.push_back(i);
    const Parsed bytewise = parse_in_pieces(*stream, every);
    expect_same_events(whole.events, bytewise.events, 0);
    EXPECT_EQ(concat_raw(bytewise), *stream);
  }
}

TEST(SseParser, MultiLineDataAndFieldRules) {
  static const char kInput[] =
      "\xEF\xBB\xBF"  // BOM is ignored
      "event: update\r"
      "data:first\r"
      "data: second\r"
      "data\r"
      "id: 42\r"
      "retry: 1500\r"
      "unknown: x\r"
      "\r"
      "data:  two spaces\n"
      "retry: soon\n"
      "id: bad\0id\n"
      "\n";
  const Parsed parsed = parse_in_pieces(std::string(kInput, sizeof kInput - 1), {});
  ASSERT_EQ(parsed.events.size(), 2u);
  EXPECT_EQ(parsed.events[0].event, "update");
  EXPECT_EQ(parsed.events[0].data, "first\nsecond\n");
  EXPECT_EQ(parsed.events[0].id, "42");
  EXPECT_EQ(parsed.events[0].retry_ms, 1500u);
  EXPECT_EQ(parsed.events[1].event, "message");  // event type resets per block
  EXPECT_EQ(parsed.events[1].data, " two spaces");  // only one leading space is dropped
  EXPECT_FALSE(parsed.events[1].retry_ms.has_value());  // non-digit retry ignored
  EXPECT_EQ(parsed.events[1].id, "42");  // id with NUL ignored; last id persists
}

TEST(SseParser, CrLfSplitBetweenCrAndLfIsOneTerminator) {
  SseParser parser;
  std::vector<SseEvent> events;
  ASSERT_FALSE(parser.feed("data: a\r", events));
  ASSERT_FALSE(parser.feed("\n\r", events));
  ASSERT_EQ(events.size(), 1u);  // "\r\n\r" ended the block already
  ASSERT_FALSE(parser.feed("\ndata: b\r\n\r\n", events));
  ASSERT_EQ(events.size(), 2u);  // no phantom empty block from the split LF
  EXPECT_EQ(events[0].data, "a");
  EXPECT_EQ(events[1].data, "b");
  EXPECT_EQ(events[0].raw + events[1].raw, "data: a\r\n\r\ndata: b\r\n\r\n");
}

TEST(SseParser, TruncatedStreamIsReported) {
  SseParser parser;
  std::vector<SseEvent> events;
  ASSERT_FALSE(parser.feed("data: {\"a\":1}\n\ndata: {\"partial\":", events));
  ASSERT_EQ(events.size(), 1u);
  const SseTail tail = parser.finish();
  EXPECT_TRUE(tail.truncated);
  EXPECT_EQ(tail.pending_raw, "data: {\"partial\":");
}

TEST(SseParser, LineLimitIsAnErrorValueAndSticky) {
  SseParser parser(SseLimits{16, 1024});
  std::vector<SseEvent> events;
  ASSERT_FALSE(parser.feed("data: ok\n\n", events));
  auto error = parser.feed("data: 0123456789abcdef", events);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->kind, SseErrorKind::line_too_long);
  EXPECT_NE(error->message.find("max_line_bytes"), std::string::npos);
  EXPECT_EQ(events.size(), 1u);
  auto again = parser.feed("\n\n", events);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->kind, SseErrorKind::after_error);
}

TEST(SseParser, EventLimitCountsAllLines) {
  SseParser parser(SseLimits{64, 40});
  std::vector<SseEvent> events;
  auto error = parser.feed("data: 0123456789\ndata: 0123456789\ndata: 0123456789\n", events);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->kind, SseErrorKind::event_too_long);
}

}  // namespace
}  // namespace sallyport::governance

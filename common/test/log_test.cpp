#include "common/log.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace sallyport::log {
namespace {

TEST(Log, JsonLineIsValidJsonWithFields) {
  const std::string line = format_line(Format::json, Level::warn, "proxy", "denied \"x\"",
                                       {{"host", "evil.com"}, {"port", 443}, {"tls", true}});
  ASSERT_EQ(line.back(), '\n');
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["component"], "proxy");
  EXPECT_EQ(j["msg"], "denied \"x\"");
  EXPECT_EQ(j["host"], "evil.com");
  EXPECT_EQ(j["port"], 443);
  EXPECT_EQ(j["tls"], true);
  EXPECT_TRUE(j["ts"].get<std::string>().ends_with("Z"));
}

TEST(Log, UntrustedNewlinesStayOnOneLine) {
  const std::string line =
      format_line(Format::json, Level::info, "proxy", "host", {{"host", "a\r\n{\"level\":\"error\"}"}});
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_TRUE(nlohmann::json::accept(line));
  const std::string text = format_line(Format::text, Level::info, "proxy", "m\nx", {{"k", "v\r\n"}});
  EXPECT_EQ(text.find('\n'), text.size() - 1);
}

TEST(Log, SecretsRedactedInMessageAndFields) {
  const std::string line = format_line(Format::json, Level::info, "gateway",
                                       "Authorization: Bearer sk-live-abcdefghijklmnop",
                                       {{"hdr", "x-api-key: sk-ant-api03-zzzzzzzzzzzzzz"}});
  EXPECT_EQ(line.find("abcdefghijklmnop"), std::string::npos) << line;
  EXPECT_EQ(line.find("zzzzzzzzzzzzzz"), std::string::npos) << line;
}

TEST(Log, TextModeIsReadable) {
  const std::string line =
      format_line(Format::text, Level::error, "admin", "bad token", {{"peer", "127.0.0.1"}});
  EXPECT_NE(line.find(" error admin: bad token peer=127.0.0.1"), std::string::npos) << line;
}

TEST(Log, ParseLevelAndFormat) {
  EXPECT_EQ(parse_level("debug"), Level::debug);
  EXPECT_EQ(parse_level("warning"), Level::warn);
  EXPECT_FALSE(parse_level("loud"));
  EXPECT_EQ(parse_format("text"), Format::text);
  EXPECT_FALSE(parse_format("xml"));
}

}  // namespace
}  // namespace sallyport::log

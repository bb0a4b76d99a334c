#include "common/redact.hpp"

#include <gtest/gtest.h>

namespace sallyport {
namespace {

struct SecretCase {
  const char* name;
  std::string input;
  std::string secret;  // must not survive redaction
};

class RedactSecret : public ::testing::TestWithParam<SecretCase> {};

TEST_P(RedactSecret, SecretNeverSurvives) {
  const auto& c = GetParam();
  const std::string out = redact_secrets(c.input);
  EXPECT_EQ(out.find(c.secret), std::string::npos) << c.name << ": " << out;
  EXPECT_NE(out.find("REDACTED"), std::string::npos) << c.name << ": " << out;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, RedactSecret,
    ::testing::Values(
        SecretCase{"bearer", "Authorization: Bearer abcDEF123456.xyz", "abcDEF123456.xyz"},
        SecretCase{"bearer_lower", "authorization: bearer tok_9f8e7d6c5b4a", "tok_9f8e7d6c5b4a"},
        SecretCase{"basic", "Proxy-Authorization: Basic dXNlcjpwYXNzd29yZA==",
                   "dXNlcjpwYXNzd29yZA=="},
        SecretCase{"jwt",
                   "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
                   "eyJzdWIiOiIxMjM0NTY3ODkwIn0"},
        SecretCase{"pem",
                   "key=-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END "
                   "PRIVATE KEY----- tail",
                   "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"},
        SecretCase{"pem_truncated", "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1L",
                   "MIIEowIBAAKCAQEAu1SU1L"},
        SecretCase{"openai", "using key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx", "AbCdEfGhIjKlMnOpQrStUvWx"},
        SecretCase{"openai_legacy", "sk-1234567890abcdefghijklmnopqrstuvwxyzABCDEFGH",
                   "1234567890abcdefghijklmnop"},
        SecretCase{"anthropic", "x sk-ant-api03-AAAAbbbbCCCCdddd-eeee_FFFF", "AAAAbbbbCCCCdddd"},
        SecretCase{"azure_hex", "api-key: 0123456789abcdef0123456789abcdef",
                   "0123456789abcdef0123456789abcdef"},
        SecretCase{"azure_bare_hex", "key 0123456789abcdef0123456789ABCDEF end",
                   "0123456789abcdef0123456789ABCDEF"},
        SecretCase{"aws", "AKIAIOSFODNN7EXAMPLE in env", "AKIAIOSFODNN7EXAMPLE"},
        SecretCase{"json_api_key", R"({"api_key": "hunter2hunter2"})", "hunter2hunter2"},
        SecretCase{"query_token", "GET /x?token=s3cr3tvalue&a=1", "s3cr3tvalue"},
        SecretCase{"x_api_key", "x-api-key: my-anthropic-secret-value", "my-anthropic-secret-value"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Redact, LeavesOrdinaryTextAlone) {
  const std::string text = "CONNECT example.com:443 denied reason=blocklist:oisd";
  EXPECT_EQ(redact_secrets(text), text);
}

TEST(Redact, KeepsSha256Hashes) {
  // Audit hashes are 64 hex characters and must stay readable.
  const std::string hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  EXPECT_EQ(redact_secrets(hash), hash);
}

TEST(Escape, ControlCharactersCannotForgeLines) {
  EXPECT_EQ(escape_untrusted("a\r\nlevel=error fake"), "a\\r\\nlevel=error fake");
  EXPECT_EQ(escape_untrusted(std::string("x\0y", 3)), "x\\x00y");
  EXPECT_EQ(escape_untrusted("\x1b[31mred"), "\\x1b[31mred");
  EXPECT_EQ(escape_untrusted("tab\there"), "tab\\there");
  EXPECT_EQ(escape_untrusted("\x7f"), "\\x7f");
}

TEST(Escape, Utf8PassesInvalidBytesEscaped) {
  EXPECT_EQ(escape_untrusted("bücher.de"), "bücher.de");
  EXPECT_EQ(escape_untrusted("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(escape_untrusted("\xc2\x85"), "\\xc2\\x85");  // C1 NEL
  EXPECT_EQ(escape_untrusted("\xe2\x82"), "\\xe2\\x82");  // truncated sequence
}

}  // namespace
}  // namespace sallyport

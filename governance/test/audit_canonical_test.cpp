#include <gtest/gtest.h>

#include "governance/audit_record.hpp"
#include "governance/canonical_json.hpp"

namespace sallyport::audit {
namespace {

using nlohmann::json;

TEST(CanonicalJson, SortsKeysAndDropsWhitespace) {
  const auto value = json::parse(R"({ "b": 1, "a": {"z": [1, 2, {"y": null, "x": true}], "m": "v"} })");
  EXPECT_EQ(canonical_json(value), R"({"a":{"m":"v","z":[1,2,{"x":true,"y":null}]},"b":1})");
}

TEST(CanonicalJson, KeysSortByUtf8Bytes) {
  json value;
  value["\xC3\xA9"] = 1;  // é (0xC3 > 'z')
  value["z"] = 2;
  value["A"] = 3;
  EXPECT_EQ(canonical_json(value), "{\"A\":3,\"z\":2,\"\xC3\xA9\":1}");
}

TEST(CanonicalJson, EscapesOnlyWhatJsonRequires) {
  const json value = std::string("q\"b\\n\n t\t\x01/\xE2\x82\xAC");
  EXPECT_EQ(canonical_json(value), "\"q\\\"b\\\\n\\n t\\t\\u0001/\xE2\x82\xAC\"");
}

TEST(CanonicalJson, NumbersAreDecimal) {
  EXPECT_EQ(canonical_json(json::parse("[0,-5,18446744073709551615,1.5]")),
            "[0,-5,18446744073709551615,1.5]");
}

TEST(CanonicalJson, InvalidUtf8IsReplacedOrRejected) {
  const json value = std::string("a\xFF" "b\xC0\xAF");
  EXPECT_EQ(canonical_json(value), "\"a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD\"");
  std::string out;
  EXPECT_FALSE(append_canonical_json(out, value, InvalidUtf8::reject));
}

TEST(AuditRecord, EncodedLineHashesItsCanonicalPrefix) {
  AuditEvent event;
  event.kind = "egress";
  event.decision = "deny";
  event.reason = "blocklist:oisd";
  event.detail = {{"host", "evil.example"}, {"port", 443}};
  event.task = "t-1";
  const Attribution who{"sb", "acme", "ns", "pod-0"};
  HashBytes prev{};
  HashBytes hash{};
  const std::string line = encode_record(event, who, 1, prev, hash);
  ASSERT_EQ(line.back(), '\n');
  const std::string body = line.substr(0, line.size() - 1);
  // Everything but "hash" is canonical JSON (sorted); "hash" comes last.
  auto parsed = json::parse(body);
  EXPECT_EQ(parsed["hash"], to_hex(hash));
  parsed.erase("hash");
  const std::string canonical = canonical_json(parsed);
  EXPECT_EQ(body.substr(0, body.size() - kHashSuffixLen) + "}", canonical);
  EXPECT_EQ(chain_hash(prev, canonical), hash);
  EXPECT_EQ(parsed["prev"], std::string(kGenesisPrev));
  EXPECT_EQ(parsed["namespace"], "ns");
  EXPECT_EQ(parsed["task"], "t-1");
  EXPECT_FALSE(parsed.contains("step"));
  // ts: RFC 3339 UTC with microseconds.
  EXPECT_TRUE(std::string(parsed["ts"]).size() == 27 && std::string(parsed["ts"]).back() == 'Z');

  std::string error;
  const auto scanned = scan_record(body, error);
  ASSERT_TRUE(scanned) << error;
  EXPECT_EQ(scanned->seq, 1u);
  EXPECT_EQ(scanned->kind, "egress");
  HashBytes recomputed{};
  ASSERT_TRUE(recompute_hash(body, *scanned, recomputed));
  EXPECT_EQ(recomputed, hash);
}

TEST(AuditRecord, HostileDetailStaysOneLine) {
  AuditEvent event;
  event.kind = "egress";
  event.detail = std::string("line1\nline2\r\n{\"seq\":9}\xFF");
  HashBytes hash{};
  const std::string line = encode_record(event, {}, 7, HashBytes{}, hash);
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  std::string error;
  const auto scanned = scan_record(std::string_view(line).substr(0, line.size() - 1), error);
  ASSERT_TRUE(scanned) << error;
  EXPECT_EQ(scanned->seq, 7u);
}

TEST(AuditRecord, ScanRejectsNonRecords) {
  std::string error;
  EXPECT_FALSE(scan_record("", error));
  EXPECT_FALSE(scan_record("[1,2]", error));
  EXPECT_FALSE(scan_record(R"({"seq":1})", error));
  EXPECT_FALSE(scan_record(R"({"kind":"x","seq":1,"ts":"t","prev":"00","hash":"00"})", error));
  EXPECT_FALSE(scan_record(R"({"kind":"x","seq":-1,"ts":"t"})", error));
  EXPECT_FALSE(scan_record(R"({"kind":"x","detail":{"a":[}})", error));
}

TEST(AuditRecord, FromDecisionCarriesRuleAndDetail) {
  const auto e = AuditEvent::from_decision("egress", Decision::deny("ip:metadata", "169.254.0.0/16", "imds"),
                                           {{"host", "169.254.169.254"}});
  EXPECT_EQ(e.decision, "deny");
  EXPECT_EQ(e.reason, "ip:metadata");
  EXPECT_EQ(e.detail["rule"], "169.254.0.0/16");
  EXPECT_EQ(e.detail["detail"], "imds");
  EXPECT_EQ(e.detail["host"], "169.254.169.254");
}

}  // namespace
}  // namespace sallyport::audit

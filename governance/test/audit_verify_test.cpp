#include <gtest/gtest.h>

#include <sstream>

#include "governance/audit_chain.hpp"
#include "governance/audit_cli.hpp"
#include "governance/audit_verify.hpp"
#include "governance/canonical_json.hpp"
#include "governance/test/audit_test_util.hpp"

namespace sallyport::audit {
namespace {

using nlohmann::json;
using testing::TempDir;

// A closed log of one segment: line 0 start checkpoint (seq 1), then events with a periodic
// checkpoint after every 5 events, and the final checkpoint last.
class TamperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    id_ = std::make_shared<const identity::Identity>(identity::Identity::generate());
    AuditOptions o;
    o.dir = dir_.path();
    o.checkpoint_every = 5;
    auto chain = AuditChain::open(o, {"sb", "t", "n", "p"}, id_);
    for (int i = 0; i < 20; ++i) {
      AuditEvent e;
      e.kind = "egress";
      e.decision = "deny";
      e.reason = "blocklist:oisd";
      e.detail = {{"host", "h" + std::to_string(i) + ".example"}};
      ASSERT_TRUE(chain->append(e));
    }
    chain->close();
    segment_ = list_segments(dir_.path()).at(0);
    lines_ = testing::read_lines(segment_);
    ASSERT_EQ(lines_.size(), 1u + 20u + 4u + 1u);
  }

  VerifyResult verify_with(const std::vector<std::string>& lines,
                           std::optional<identity::PublicKey> key = std::nullopt) {
    testing::write_lines(segment_, lines);
    VerifyOptions vo;
    vo.pubkey = key ? key : std::optional<identity::PublicKey>(id_->public_key());
    return verify_log(dir_.path(), vo);
  }

  void expect_break(const VerifyResult& r, BreakReason reason, std::uint64_t line) {
    ASSERT_FALSE(r.ok);
    ASSERT_TRUE(r.bad) << (r.io_error ? *r.io_error : "");
    EXPECT_EQ(to_string(r.bad->reason), std::string(to_string(reason))) << r.bad->message;
    EXPECT_EQ(r.bad->line, line) << r.bad->message;
  }

  // Recomputes seq (when renumber), prev and hash of lines[from..] as a forger would.
  static void rechain(std::vector<std::string>& lines, std::size_t from, bool renumber) {
    std::string prev = json::parse(lines.at(from - 1))["hash"];
    std::uint64_t seq = json::parse(lines.at(from - 1))["seq"];
    for (std::size_t k = from; k < lines.size(); ++k) {
      json j = json::parse(lines[k]);
      j.erase("hash");
      j["prev"] = prev;
      if (renumber) j["seq"] = ++seq;
      lines[k] = with_hash(j);
      prev = json::parse(lines[k])["hash"];
    }
  }

  static std::string with_hash(const json& record_without_hash) {
    const std::string canonical = canonical_json(record_without_hash);
    HashBytes prev{};
    from_hex(record_without_hash["prev"].get<std::string>(), prev.data(), prev.size());
    const auto hash = chain_hash(prev, canonical);
    return canonical.substr(0, canonical.size() - 1) + ",\"hash\":\"" + to_hex(hash) + "\"}";
  }

  TempDir dir_;
  std::shared_ptr<const identity::Identity> id_;
  std::filesystem::path segment_;
  std::vector<std::string> lines_;
};

TEST_F(TamperTest, IntactLogVerifies) {
  const auto r = verify_with(lines_);
  EXPECT_TRUE(r.ok) << (r.bad ? r.bad->message : "");
  EXPECT_EQ(r.records, lines_.size());
  EXPECT_EQ(r.checkpoints, 6u);
  EXPECT_EQ(r.unsigned_tail_records, 0u);
}

TEST_F(TamperTest, EditedFieldIsModified) {
  auto lines = lines_;
  const auto pos = lines[3].find("\"deny\"");
  lines[3].replace(pos, 6, "\"allow\"");
  expect_break(verify_with(lines), BreakReason::modified, 4);
}

TEST_F(TamperTest, DeletedLineIsDeleted) {
  auto lines = lines_;
  lines.erase(lines.begin() + 3);
  expect_break(verify_with(lines), BreakReason::deleted, 4);
}

TEST_F(TamperTest, SwappedLinesAreReordered) {
  auto lines = lines_;
  std::swap(lines[3], lines[4]);
  expect_break(verify_with(lines), BreakReason::reordered, 4);
}

TEST_F(TamperTest, ForgedLineWithRecomputedHashIsInserted) {
  auto lines = lines_;
  json forged = json::parse(lines[3]);
  forged.erase("hash");
  forged["decision"] = "allow";
  forged["detail"] = {{"host", "innocent.example"}};
  lines.insert(lines.begin() + 3, with_hash(forged));  // same seq and prev as the original
  expect_break(verify_with(lines), BreakReason::inserted, 4);
}

TEST_F(TamperTest, ForgedLineWithRechainedTailFailsTheNextSignature) {
  auto lines = lines_;
  json forged = json::parse(lines[3]);
  forged.erase("hash");
  forged["detail"] = {{"host", "innocent.example"}};
  lines.insert(lines.begin() + 3, with_hash(forged));
  rechain(lines, 4, true);  // renumber and re-hash everything after it
  const auto r = verify_with(lines);
  ASSERT_TRUE(r.bad);
  EXPECT_EQ(r.bad->reason, BreakReason::bad_signature) << r.bad->message;
  EXPECT_EQ(json::parse(r.bad->record)["kind"], "checkpoint");
}

TEST_F(TamperTest, EditWithRecomputedHashIsModifiedAtThatRecord) {
  auto lines = lines_;
  json edited = json::parse(lines[3]);
  edited.erase("hash");
  edited["decision"] = "allow";
  lines[3] = with_hash(edited);
  expect_break(verify_with(lines), BreakReason::modified, 4);
}

TEST_F(TamperTest, ForgedRecordAfterTheFinalCheckpointIsInserted) {
  auto lines = lines_;
  json forged = json::parse(lines[3]);
  forged.erase("hash");
  forged["seq"] = json::parse(lines.back())["seq"].get<std::uint64_t>() + 1;
  forged["prev"] = json::parse(lines.back())["hash"];
  lines.push_back(with_hash(forged));
  expect_break(verify_with(lines), BreakReason::inserted, lines.size());
}

TEST_F(TamperTest, TornLastLineIsTruncated) {
  testing::write_file(segment_, testing::read_file(segment_).substr(0, testing::read_file(segment_).size() - 30));
  VerifyOptions vo;
  vo.pubkey = id_->public_key();
  const auto r = verify_log(dir_.path(), vo);
  expect_break(r, BreakReason::truncated, lines_.size());
}

TEST_F(TamperTest, CutTailIsTruncated) {
  auto lines = lines_;
  lines.resize(lines.size() - 3);  // final + last periodic checkpoint and event 20 gone
  const auto r = verify_with(lines);
  ASSERT_TRUE(r.bad);
  EXPECT_EQ(r.bad->reason, BreakReason::truncated);
  // Accepting an open tail (live log) passes and reports the unsigned records.
  VerifyOptions open_tail;
  open_tail.allow_open_tail = true;
  const auto live = verify_log(dir_.path(), open_tail);
  EXPECT_TRUE(live.ok);
  EXPECT_EQ(live.unsigned_tail_records, 4u);  // events 16..19
}

TEST_F(TamperTest, OtherPublicKeyIsUnknownKey) {
  const auto other = identity::Identity::generate();
  expect_break(verify_with(lines_, other.public_key()), BreakReason::unknown_key, 1);
}

TEST_F(TamperTest, CheckpointResignedWithAnotherKeyIsUnknownKey) {
  const auto other = identity::Identity::generate();
  auto lines = lines_;
  const std::size_t cp = 6;  // first periodic checkpoint (after 5 events)
  json j = json::parse(lines[cp]);
  ASSERT_EQ(j["kind"], "checkpoint");
  j.erase("hash");
  HashBytes covered{};
  from_hex(j["prev"].get<std::string>(), covered.data(), covered.size());
  j["detail"]["key_id"] = other.key_id();
  j["detail"]["pubkey"] = other.public_key().hex();
  j["detail"]["sig"] = to_hex(other.sign(covered));
  lines[cp] = with_hash(j);
  rechain(lines, cp + 1, false);
  testing::write_lines(segment_, lines);
  const auto r = verify_log(dir_.path(), VerifyOptions{});  // trust on first use: start checkpoint
  expect_break(r, BreakReason::unknown_key, cp + 1);
}

TEST_F(TamperTest, AlteredSignatureIsBadSignature) {
  auto lines = lines_;
  const std::size_t cp = 6;
  json j = json::parse(lines[cp]);
  j.erase("hash");
  std::string sig = j["detail"]["sig"];
  sig[0] = sig[0] == '0' ? '1' : '0';
  j["detail"]["sig"] = sig;
  lines[cp] = with_hash(j);
  rechain(lines, cp + 1, false);
  expect_break(verify_with(lines), BreakReason::bad_signature, cp + 1);
}

TEST_F(TamperTest, GarbageLineIsMalformed) {
  auto lines = lines_;
  lines[5] = "this is not json";
  expect_break(verify_with(lines), BreakReason::malformed, 6);
}

TEST_F(TamperTest, DeletedSegmentInTheMiddleIsDetected) {
  // Three segments; removing the middle one breaks the link at the boundary.
  TempDir dir;
  AuditOptions o;
  o.dir = dir.path();
  for (int run = 0; run < 3; ++run) {
    auto chain = AuditChain::open(o, {}, id_);
    AuditEvent e;
    e.kind = "model";
    ASSERT_TRUE(chain->append(e));
  }
  auto segments = list_segments(dir.path());
  ASSERT_EQ(segments.size(), 3u);
  std::filesystem::remove(segments[1]);
  VerifyOptions vo;
  vo.pubkey = id_->public_key();
  const auto r = verify_log(dir.path(), vo);
  ASSERT_TRUE(r.bad);
  EXPECT_EQ(r.bad->reason, BreakReason::truncated);
  EXPECT_EQ(r.bad->file, segments[2]);
}

TEST_F(TamperTest, CliExitCodesAndJson) {
  std::ostringstream ok_out;
  EXPECT_EQ(run_audit_verify(dir_.path().string(), id_->public_key().hex(), false, ok_out), 0);
  EXPECT_NE(ok_out.str().find("OK: 26 records"), std::string::npos) << ok_out.str();
  auto lines = lines_;
  lines.erase(lines.begin() + 3);
  testing::write_lines(segment_, lines);
  std::ostringstream bad_out;
  EXPECT_EQ(run_audit_verify(dir_.path().string(), std::nullopt, true, bad_out), 1);
  const auto j = json::parse(bad_out.str());
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["bad"]["reason"], "deleted");
  EXPECT_EQ(j["bad"]["seq"], 5);
  std::ostringstream io_out;
  EXPECT_EQ(run_audit_verify((dir_.path() / "missing").string(), std::nullopt, false, io_out), 2);
  EXPECT_EQ(run_audit_verify(dir_.path().string(), std::string("zz"), false, io_out), 2);
}

TEST_F(TamperTest, TailPrettyPrintsTheLastRecords) {
  std::ostringstream out;
  EXPECT_EQ(run_audit_tail(dir_.path().string(), false, 3, out), 0);
  std::istringstream in(out.str());
  std::vector<std::string> printed;
  for (std::string l; std::getline(in, l);) printed.push_back(l);
  ASSERT_EQ(printed.size(), 3u);
  EXPECT_NE(printed[0].find(" #24 egress deny blocklist:oisd sb/t/n/p "), std::string::npos) << printed[0];
  EXPECT_NE(printed[2].find("checkpoint signed shutdown"), std::string::npos) << printed[2];
}

}  // namespace
}  // namespace sallyport::audit

#pragma once
// The audit record format (shared/DESIGN.md "Governance → Audit") and the byte-level helpers
// shared by the writer (AuditChain), the verifier, `audit tail` and the SIEM sinks.
//
// A record is one line of JSON (JSON Lines). The writer emits it as
//     canonical_json(record without "hash")  with the final '}' replaced by
//     ,"hash":"<64 lower-case hex>"}\n
// i.e. every key but "hash" in canonical (sorted) order and "hash" appended last. Hence
//     hash = hex(SHA-256(prev_hash_bytes ‖ line[0 : len-75] + "}"))
// where 75 = strlen(,"hash":"") + 64 + strlen("}), which lets the verifier hash the bytes of the
// line without re-serialising it. `prev` of the very first record (seq 1) is the genesis value,
// 64 zeros. Keys in sorted order: decision, detail, kind, namespace, pod, prev, reason, sandbox,
// seq, step?, task?, tenant, ts. `ts` is RFC 3339 UTC with microseconds
// (2026-11-24T18:05:49.123456Z).
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/decision.hpp"

namespace sallyport::audit {

using HashBytes = std::array<std::uint8_t, 32>;

inline constexpr std::string_view kGenesisPrev =
    "0000000000000000000000000000000000000000000000000000000000000000";
inline constexpr std::size_t kHashSuffixLen = 75;  // ,"hash":"<64 hex>"}
inline constexpr std::string_view kCheckpointKind = "checkpoint";

// Who the records are about. The router fills it from its own config (never from headers).
struct Attribution {
  std::string sandbox;
  std::string tenant;
  std::string namespace_;  // "namespace" in JSON
  std::string pod;
};

// One decision to record. `kind` names the source (e.g. "egress", "model", "budget", "tool",
// "approval", "trust", "kernel", "config"); decision is "allow"/"deny"/… and reason one of the
// closed reason strings. detail is an object or a string (untrusted text is fine: it is escaped).
struct AuditEvent {
  std::string kind;
  std::string decision;
  std::string reason;
  nlohmann::json detail = nlohmann::json::object();
  std::optional<std::string> task;  // from X-Sallyport-Task
  std::optional<std::string> step;  // from X-Sallyport-Step
  // Overrides the chain's attribution (e.g. kernel deny events attributed by cgroup).
  std::optional<Attribution> attribution;
  // Time of the decision; stamped by AuditChain::append when empty.
  std::optional<std::chrono::system_clock::time_point> time;

  // kind + Decision{verdict, reason, rule, detail} → event with detail {"rule","detail",…extra}.
  static AuditEvent from_decision(std::string kind, const Decision& decision,
                                  nlohmann::json extra = nlohmann::json::object());
};

// SHA-256 over prev ‖ data. Thread-safe.
HashBytes chain_hash(const HashBytes& prev, std::string_view canonical);
HashBytes sha256(std::string_view data);

std::string to_hex(const std::uint8_t* data, std::size_t size);
template <std::size_t N>
std::string to_hex(const std::array<std::uint8_t, N>& bytes) {
  return to_hex(bytes.data(), N);
}
// Parses exactly 2*N lower- or upper-case hex digits.
bool from_hex(std::string_view hex, std::uint8_t* out, std::size_t size);

std::string format_rfc3339_micros(std::chrono::system_clock::time_point tp);

// Builds a complete record line (with trailing '\n') for `event` at `seq` after `prev`; returns
// the line and stores the new hash in `hash_out`. Never fails: invalid UTF-8 becomes U+FFFD.
std::string encode_record(const AuditEvent& event, const Attribution& attribution,
                          std::uint64_t seq, const HashBytes& prev, HashBytes& hash_out);

// Top-level fields of one line, found by a single pass without building a DOM. Views point into
// the scanned line. String views hold the raw (still escaped) bytes between the quotes.
struct ScannedRecord {
  std::uint64_t seq = 0;
  std::string_view prev;     // 64 hex
  std::string_view hash;     // 64 hex
  std::string_view kind;     // raw string content
  std::string_view ts;       // raw string content
  std::string_view decision;
  std::string_view reason;
  std::string_view detail;   // raw JSON value (object or string)
  std::size_t canonical_len = 0;  // bytes of the line before ,"hash":…; canonical = that + "}"
};

// Scans a line (without the '\n'). Returns nullopt with `error` set when the line is not a
// record in the writer's layout (not an object, missing seq/prev/hash/kind/ts, "hash" not last,
// hash/prev not 64 hex, trailing bytes).
std::optional<ScannedRecord> scan_record(std::string_view line, std::string& error);

// Verifier fast path: finds the fields at their writer positions without walking the detail
// (the flat keys after "detail" are located from the end; `"` cannot occur unescaped inside a
// string, and only detail can nest). nullopt when the line is not in the exact writer layout;
// callers then use scan_record() for a precise error. Content integrity comes from the hash.
std::optional<ScannedRecord> scan_record_fast(std::string_view line);

// Recomputes the hash of a scanned line from its own `prev`. False when prev is not hex.
bool recompute_hash(std::string_view line, const ScannedRecord& record, HashBytes& out);

}  // namespace sallyport::audit

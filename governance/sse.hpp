#pragma once
// Incremental Server-Sent Events parser for the inference gateway's streamed answers.
//
// Contract:
// - feed() accepts arbitrary TCP chunks: an event may be split anywhere, also inside "data:",
//   inside a field value, or between the CR and LF of a CRLF pair.
// - Parsing follows the WHATWG EventSource "interpret the event stream" rules: lines end in CRLF,
//   LF or CR; a leading UTF-8 BOM is ignored; ":" lines are comments; a field line is split at
//   the first ':' and one leading space of the value is dropped; `data` lines are joined with
//   '\n'; `id` values containing NUL are ignored; `retry` only accepts ASCII digits; unknown fields
//   are ignored; an empty line ends the block.
// - Every block (bytes up to and including its terminating empty line) is returned as one
//   SseEvent whose `raw` holds the exact input bytes, so the gateway can forward event by event
//   without re-serialising. Concatenating every `raw` in order, followed by
//   SseTail::pending_raw from finish(), reproduces the input byte for byte.
// - Blocks without data lines (keep-alive comments, bare `id:`/`retry:`) are returned too with
//   has_data == false: the spec dispatches nothing for them, but they must still be forwarded.
// - Limits are enforced; exceeding one yields an SseError and the parser refuses further input
//   (the stream must be cut). No exceptions, no unbounded buffering.
// Not thread-safe: one parser per stream.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sallyport::governance {

struct SseLimits {
  std::size_t max_line_bytes = 1 << 20;   // one field line (without its terminator)
  std::size_t max_event_bytes = 8 << 20;  // one block's raw bytes, all lines together
};

struct SseEvent {
  std::string event = "message";  // `event:` field, "message" when absent (per spec)
  std::string data;               // data lines joined with '\n' (no trailing '\n')
  std::string id;                 // last event id in effect after this block
  std::optional<std::uint64_t> retry_ms;  // `retry:` seen in this block
  bool has_data = false;  // false: comment / id / retry-only block, nothing to dispatch
  std::string raw;        // exact bytes of this block, including the empty line that ended it

  // OpenAI's end-of-stream sentinel `data: [DONE]`.
  [[nodiscard]] bool is_done() const noexcept { return has_data && data == "[DONE]"; }
};

enum class SseErrorKind : std::uint8_t { line_too_long, event_too_long, after_error };

struct SseError {
  SseErrorKind kind;
  std::uint64_t offset;  // byte offset in the whole stream where the limit was crossed
  std::string message;   // what was wrong, where, and what is expected
};

// What remained when the stream ended. A non-empty pending_raw means the upstream stream was
// truncated mid-event (the spec discards such an event; the gateway should count it).
struct SseTail {
  bool truncated = false;
  std::string pending_raw;
};

class SseParser {
 public:
  explicit SseParser(SseLimits limits = {});

  // Parses `chunk`, appending every completed block to `out` (out is not cleared). Returns an
  // error if a limit was crossed (events completed before the offending byte are still
  // appended); after an error every call returns SseErrorKind::after_error.
  std::optional<SseError> feed(std::string_view chunk, std::vector<SseEvent>& out);

  // Call once at end of stream. Resets the parser for reuse.
  SseTail finish();

  [[nodiscard]] std::uint64_t bytes_consumed() const noexcept { return offset_; }
  [[nodiscard]] const std::string& last_event_id() const noexcept { return last_event_id_; }

 private:
  void process_line(std::vector<SseEvent>& out);
  void dispatch(std::vector<SseEvent>& out);
  SseError fail(SseErrorKind kind, std::string message);

  SseLimits limits_;
  std::string line_;          // current line, without terminator
  std::string raw_;           // raw bytes of the current block so far
  std::string data_;          // data buffer (each line + '\n')
  std::string event_type_;    // event type buffer
  std::string last_event_id_;
  std::optional<std::uint64_t> retry_ms_;
  bool saw_field_ = false;    // block has at least one line (so the empty line ends something)
  bool skip_lf_ = false;      // previous byte was CR: a following LF belongs to that terminator
  bool at_stream_start_ = true;  // for BOM stripping
  bool failed_ = false;
  std::uint64_t offset_ = 0;
};

}  // namespace sallyport::governance

#include "governance/sse.hpp"

#include <charconv>
#include <utility>

namespace sallyport::governance {

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

bool all_ascii_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

SseParser::SseParser(SseLimits limits) : limits_(limits) {}

SseError SseParser::fail(SseErrorKind kind, std::string message) {
  failed_ = true;
  return SseError{kind, offset_, std::move(message)};
}

std::optional<SseError> SseParser::feed(std::string_view chunk, std::vector<SseEvent>& out) {
  if (failed_) {
    return SseError{SseErrorKind::after_error, offset_,
                    "SSE parser already failed on this stream; no further input is accepted"};
  }
  std::size_t pos = 0;
  if (skip_lf_ && !chunk.empty()) {
    skip_lf_ = false;
    if (chunk.front() == '\n') {  // second half of a CRLF split across chunks
      raw_.push_back('\n');
      ++offset_;
      pos = 1;
    }
  }
  while (pos < chunk.size()) {
    const std::size_t end = chunk.find_first_of("\r\n", pos);
    const std::size_t stop = end == std::string_view::npos ? chunk.size() : end;
    const std::string_view piece = chunk.substr(pos, stop - pos);
    if (line_.size() + piece.size() > limits_.max_line_bytes) {
      offset_ += limits_.max_line_bytes - line_.size();
      return fail(SseErrorKind::line_too_long,
                  "SSE line longer than " + std::to_string(limits_.max_line_bytes) +
                      " bytes at stream offset " + std::to_string(offset_) +
                      "; expected lines within the configured max_line_bytes");
    }
    if (raw_.size() + piece.size() + 2 > limits_.max_event_bytes) {
      return fail(SseErrorKind::event_too_long,
                  "SSE event larger than " + std::to_string(limits_.max_event_bytes) +
                      " bytes at stream offset " + std::to_string(offset_) +
                      "; expected events within the configured max_event_bytes");
    }
    line_.append(piece);
    raw_.append(piece);
    offset_ += piece.size();
    pos = stop;
    if (end == std::string_view::npos) break;

    // A line terminator: CRLF, LF or CR. Keep CRLF together when both bytes are here.
    raw_.push_back(chunk[pos]);
    ++offset_;
    if (chunk[pos] == '\r') {
      if (pos + 1 < chunk.size()) {
        if (chunk[pos + 1] == '\n') {
          raw_.push_back('\n');
          ++offset_;
          ++pos;
        }
      } else {
        skip_lf_ = true;  // the LF (if any) arrives with the next chunk
      }
    }
    ++pos;
    process_line(out);
  }
  return std::nullopt;
}

void SseParser::process_line(std::vector<SseEvent>& out) {
  std::string_view line = line_;
  if (at_stream_start_) {
    at_stream_start_ = false;
    if (line.substr(0, kBom.size()) == kBom) line.remove_prefix(kBom.size());
  }
  if (line.empty()) {
    dispatch(out);
    line_.clear();
    return;
  }
  if (line.front() == ':') {  // comment
    line_.clear();
    return;
  }
  std::string_view field = line;
  std::string_view value;
  if (const std::size_t colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    data_.append(value);
    data_.push_back('\n');
  } else if (field == "event") {
    event_type_.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) last_event_id_.assign(value);
  } else if (field == "retry") {
    std::uint64_t ms = 0;
    if (all_ascii_digits(value)) {
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
      if (ec == std::errc{} && ptr == value.data() + value.size()) retry_ms_ = ms;
    }
  }
  line_.clear();
}

void SseParser::dispatch(std::vector<SseEvent>& out) {
  SseEvent event;
  event.has_data = !data_.empty();
  if (event.has_data) {
    data_.pop_back();  // the spec removes the last '\n'
    event.data = std::move(data_);
    if (!event_type_.empty()) event.event = std::move(event_type_);
  }
  event.id = last_event_id_;
  event.retry_ms = retry_ms_;
  event.raw = std::move(raw_);
  out.push_back(std::move(event));
  data_.clear();
  event_type_.clear();
  raw_.clear();
  retry_ms_.reset();
}

SseTail SseParser::finish() {
  SseTail tail;
  tail.pending_raw = std::move(raw_);
  tail.truncated = !tail.pending_raw.empty() && tail.pending_raw.find_first_not_of("\r\n") !=
                                                    std::string::npos;
  *this = SseParser(limits_);
  return tail;
}

}  // namespace sallyport::governance

#include "router/sse_relay.hpp"

namespace sallyport::router {

using governance::ApiFlavor;

SseRelay::SseRelay(SseRelayOptions options)
    : options_(std::move(options)), usage_(options_.flavor) {}

bool SseRelay::feed(std::string_view chunk, std::string& out) {
  if (ended_) return false;
  events_.clear();
  const auto error = parser_.feed(chunk, events_);
  for (const auto& event : events_) {
    handle_event(event, out);
    if (ended_) return false;
  }
  if (error) {
    end_with_error(Decision::deny("upstream:sse-limit", "sse", error->message), out);
    return false;
  }
  return true;
}

void SseRelay::finish(std::string& out) {
  if (ended_) return;
  const auto tail = parser_.finish();
  truncated_ = tail.truncated;
  if (options_.tool_filter) emit_outputs(options_.tool_filter->finish(), out);
  flush_held(out);
  ended_ = true;
}

bool SseRelay::waiting() const { return options_.tool_filter && options_.tool_filter->waiting(); }

void SseRelay::resolve(std::size_t sequence, const Decision& decision, std::string& out) {
  if (!options_.tool_filter) return;
  emit_outputs(options_.tool_filter->resolve(sequence, decision), out);
  flush_held(out);
}

std::vector<governance::ToolVerdict> SseRelay::tool_verdicts() const {
  if (!options_.tool_filter) return {};
  return options_.tool_filter->verdicts();
}

void SseRelay::flush_held(std::string& out) {
  if (waiting() || held_.empty()) return;
  out += held_;
  held_.clear();
}

void SseRelay::handle_event(const governance::SseEvent& event, std::string& out) {
  auto forward_raw = [&] {
    // Raw blocks keep their place behind tool-call output that is still held back.
    if (waiting()) {
      held_ += event.raw;
    } else {
      out += event.raw;
    }
    ++events_forwarded_;
  };
  if (!event.has_data) return forward_raw();
  if (event.is_done()) {
    if (options_.tool_filter) emit_outputs(options_.tool_filter->finish(), out);
    return forward_raw();
  }
  auto json = governance::parse_json(event.data);
  if (!json) {
    ++non_json_events_;
    return forward_raw();
  }
  usage_.observe(event.event, *json);
  if (options_.safety && options_.flavor == ApiFlavor::openai) {
    auto report = governance::evaluate_content_safety(*json, *options_.safety);
    if (!report.decision.allowed()) return end_with_error(report.decision, out);
  }
  if (!options_.tool_filter &&
      !(options_.strip_usage_chunk && governance::is_usage_only_chunk(*json))) {
    return forward_raw();
  }
  // The block is replaced (or dropped): keep the LF that completed the previous block's CRLF
  // (the parser hands it to this block), so the bytes before stay a complete block.
  if (event.raw.starts_with('\n')) (waiting() ? held_ : out) += '\n';
  if (options_.strip_usage_chunk && governance::is_usage_only_chunk(*json)) return;
  emit_outputs(options_.tool_filter->feed(*json), out);
}

void SseRelay::emit_json(const nlohmann::json& value, std::string& out) {
  if (options_.flavor == ApiFlavor::anthropic || options_.named_events) {
    const auto type = value.is_object() ? value.find("type") : value.end();
    if (value.is_object() && type != value.end() && type->is_string()) {
      out += "event: ";
      out += type->get_ref<const std::string&>();
      out += '\n';
    }
  }
  out += "data: ";
  out += value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out += "\n\n";
  ++events_forwarded_;
}

void SseRelay::emit_outputs(const std::vector<nlohmann::json>& outputs, std::string& out) {
  for (const auto& value : outputs) emit_json(value, out);
}

void SseRelay::end_with_error(const Decision& decision, std::string& out) {
  blocked_ = decision;
  const auto error = decision.reason.starts_with("upstream:")
                         ? governance::make_api_error(governance::ApiErrorKind::upstream_error,
                                                      "upstream stream violated SSE limits",
                                                      options_.flavor)
                         : governance::api_error_for_decision(decision, options_.flavor);
  out += sse_error_event(error, options_.flavor);
  ended_ = true;
}

std::string sse_error_event(const governance::ApiErrorResponse& error, ApiFlavor flavor) {
  std::string out = flavor == ApiFlavor::anthropic ? "event: error\ndata: " : "data: ";
  out += error.body;
  out += "\n\n";
  return out;
}

}  // namespace sallyport::router

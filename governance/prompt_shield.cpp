#include "governance/prompt_shield.hpp"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>

#include <utility>

namespace sallyport::governance {

using nlohmann::json;

namespace {

const json* member(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string_view string_member(const json& object, std::string_view key) {
  const json* value = member(object, key);
  if (value == nullptr || !value->is_string()) return {};
  return value->get_ref<const std::string&>();
}

bool valid_id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

// Drops zero-width characters and maps NBSP to a space: cheap evasions of \s and \b.
std::string normalize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == 0xE2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80) {
      const auto c2 = static_cast<unsigned char>(text[i + 2]);
      if (c2 >= 0x8B && c2 <= 0x8D) {  // U+200B..U+200D
        i += 2;
        continue;
      }
    }
    if (c == 0xE2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x81 &&
        static_cast<unsigned char>(text[i + 2]) == 0xA0) {  // U+2060 word joiner
      i += 2;
      continue;
    }
    if (c == 0xEF && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0xBB &&
        static_cast<unsigned char>(text[i + 2]) == 0xBF) {  // U+FEFF
      i += 2;
      continue;
    }
    if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0xA0) {
      out.push_back(' ');
      ++i;
      continue;
    }
    out.push_back(static_cast<char>(c));
  }
  return out;
}

struct ScanText {
  std::string where;
  std::string_view text;
};

// Text parts of one content value: a string, or an array of typed parts.
void collect_content(const json& content, const std::string& where, std::vector<ScanText>& out) {
  if (content.is_string()) {
    out.push_back({where, content.get_ref<const std::string&>()});
    return;
  }
  if (!content.is_array()) return;
  for (std::size_t i = 0; i < content.size(); ++i) {
    const json& part = content[i];
    const std::string part_where = where + "[" + std::to_string(i) + "]";
    if (part.is_string()) {
      out.push_back({part_where, part.get_ref<const std::string&>()});
      continue;
    }
    const std::string_view type = string_member(part, "type");
    if (type == "text" || type == "input_text" || type.empty()) {
      if (auto text = string_member(part, "text"); !text.empty()) out.push_back({part_where, text});
    } else if (type == "tool_result") {  // Anthropic: content string or text blocks
      if (const json* inner = member(part, "content")) collect_content(*inner, part_where, out);
    }
  }
}

std::vector<ScanText> collect_openai(const json& body) {
  std::vector<ScanText> out;
  if (const json* messages = member(body, "messages"); messages != nullptr && messages->is_array()) {
    for (std::size_t i = 0; i < messages->size(); ++i) {
      const json& message = (*messages)[i];
      const std::string_view role = string_member(message, "role");
      if (role != "user" && role != "tool" && role != "function") continue;
      if (const json* content = member(message, "content")) {
        collect_content(*content, "messages[" + std::to_string(i) + "]", out);
      }
    }
  }
  // Responses API: input is a string or a list of items.
  if (const json* input = member(body, "input")) {
    if (input->is_string()) {
      out.push_back({"input", input->get_ref<const std::string&>()});
    } else if (input->is_array()) {
      for (std::size_t i = 0; i < input->size(); ++i) {
        const json& item = (*input)[i];
        const std::string where = "input[" + std::to_string(i) + "]";
        if (item.is_string()) {
          out.push_back({where, item.get_ref<const std::string&>()});
        } else if (string_member(item, "type") == "function_call_output") {
          if (auto output = string_member(item, "output"); !output.empty()) out.push_back({where, output});
        } else if (string_member(item, "role") == "user") {
          if (const json* content = member(item, "content")) collect_content(*content, where, out);
        }
      }
    }
  }
  return out;
}

std::vector<ScanText> collect_anthropic(const json& body) {
  std::vector<ScanText> out;
  const json* messages = member(body, "messages");
  if (messages == nullptr || !messages->is_array()) return out;
  for (std::size_t i = 0; i < messages->size(); ++i) {
    const json& message = (*messages)[i];
    if (string_member(message, "role") != "user") continue;
    if (const json* content = member(message, "content")) {
      collect_content(*content, "messages[" + std::to_string(i) + "]", out);
    }
  }
  return out;
}

}  // namespace

std::optional<ShieldMode> parse_shield_mode(std::string_view text) {
  if (text == "off") return ShieldMode::off;
  if (text == "observe") return ShieldMode::observe;
  if (text == "enforce") return ShieldMode::enforce;
  return std::nullopt;
}

ShieldPatternsResult parse_shield_patterns(std::string_view text, std::string_view source) {
  ShieldPatternsResult result;
  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    line.remove_prefix(first);
    ShieldPattern pattern;
    std::size_t id_end = 0;
    while (id_end < line.size() && valid_id_char(line[id_end])) ++id_end;
    if (id_end > 0 && line.substr(id_end, 2) == ": ") {
      pattern.id = std::string(line.substr(0, id_end));
      pattern.pattern = std::string(line.substr(id_end + 2));
    } else {
      pattern.id = std::string(source) + ":" + std::to_string(line_number);
      pattern.pattern = std::string(line);
    }
    while (!pattern.pattern.empty() && (pattern.pattern.back() == ' ' || pattern.pattern.back() == '\t')) {
      pattern.pattern.pop_back();
    }
    if (pattern.pattern.empty()) {
      result.patterns.clear();
      result.error = std::string(source) + ":" + std::to_string(line_number) +
                     ": empty pattern after id; expected `id: <RE2 pattern>`";
      return result;
    }
    result.patterns.push_back(std::move(pattern));
  }
  return result;
}

struct PromptShield::CompiledSet {
  explicit CompiledSet(const RE2::Options& options) : set(options, RE2::UNANCHORED) {}
  RE2::Set set;
};

PromptShield::PromptShield(std::vector<ShieldPattern> patterns, ShieldMode mode)
    : patterns_(std::move(patterns)), mode_(mode) {}

PromptShield::~PromptShield() = default;

PromptShieldResult PromptShield::compile(std::vector<ShieldPattern> patterns, ShieldMode mode) {
  PromptShieldResult result;
  RE2::Options options;
  options.set_case_sensitive(false);
  options.set_log_errors(false);
  options.set_max_mem(64 << 20);  // the DFA for ~40 patterns with bounded repeats needs room
  std::unique_ptr<PromptShield> shield(new PromptShield(std::move(patterns), mode));
  shield->set_ = std::make_unique<CompiledSet>(options);
  for (const ShieldPattern& pattern : shield->patterns_) {
    std::string error;
    if (shield->set_->set.Add(pattern.pattern, &error) < 0) {
      result.error = "prompt shield pattern '" + pattern.id + "': " + error;
      return result;
    }
  }
  if (!shield->set_->set.Compile()) {
    result.error = "prompt shield: RE2::Set compile failed (out of memory for the pattern set)";
    return result;
  }
  result.shield = std::move(shield);
  return result;
}

PromptShieldResult PromptShield::compile_default(ShieldMode mode, std::vector<ShieldPattern> extra) {
  ShieldPatternsResult defaults = parse_shield_patterns(default_shield_patterns_text(), "default");
  if (!defaults.error.empty()) return PromptShieldResult{nullptr, defaults.error};
  for (auto& pattern : extra) defaults.patterns.push_back(std::move(pattern));
  return compile(std::move(defaults.patterns), mode);
}

std::vector<std::string> PromptShield::match_text(std::string_view text) const {
  std::vector<std::string> ids;
  if (patterns_.empty()) return ids;
  const std::string normalized = normalize(text);
  std::vector<int> hits;
  RE2::Set::ErrorInfo info{};
  if (!set_->set.Match(normalized, &hits, &info) && info.kind != RE2::Set::kNoError) {
    // DFA out of memory on a pathological input: fail closed by reporting the first pattern.
    ids.push_back(patterns_.front().id);
    return ids;
  }
  std::sort(hits.begin(), hits.end());
  for (int index : hits) ids.push_back(patterns_[static_cast<std::size_t>(index)].id);
  return ids;
}

ShieldScan PromptShield::scan_request(const json& body, ApiFlavor flavor) const {
  ShieldScan scan;
  if (mode_ == ShieldMode::off) {
    scan.decision = Decision::allow("shield:pass");
    return scan;
  }
  const std::vector<ScanText> texts =
      flavor == ApiFlavor::anthropic ? collect_anthropic(body) : collect_openai(body);
  std::string first_where;
  for (const ScanText& text : texts) {
    std::vector<std::string> ids = match_text(text.text);
    if (!ids.empty() && first_where.empty()) first_where = text.where;
    for (auto& id : ids) scan.matched_ids.push_back(std::move(id));
  }
  if (scan.matched_ids.empty()) {
    scan.decision = Decision::allow("shield:pass");
    return scan;
  }
  const std::string detail = "prompt shield matched at " + first_where;
  scan.decision = mode_ == ShieldMode::enforce
                      ? Decision::deny("shield:jailbreak", scan.matched_ids.front(), detail)
                      : Decision::allow("shield:jailbreak", scan.matched_ids.front(), detail);
  return scan;
}

}  // namespace sallyport::governance

#include "config/json_reader.hpp"


#include <algorithm>
#include <charconv>

namespace sallyport::config {

std::string json_type_name(const nlohmann::json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number_integer()) return "an integer";
  if (value.is_number()) return "a number";
  if (value.is_string()) return "a string";
  if (value.is_array()) return "an array";
  return "an object";
}

std::string escape_pointer_token(std::string_view token) {
  std::string out;
  for (char c : token) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out.push_back(c);
  }
  return out;
}

JsonReader::JsonReader(const nlohmann::json* node, std::string pointer,
                       std::vector<ConfigError>& errors)
    : node_(node), pointer_(std::move(pointer)), errors_(errors) {
  if (node_ && !node_->is_object()) {
    error(pointer_, "expected an object, got " + json_type_name(*node_));
    node_ = nullptr;
  }
}

bool JsonReader::has(const char* key) const { return node_ && node_->contains(key); }

std::string JsonReader::child_pointer(const char* key) const {
  return pointer_ + "/" + escape_pointer_token(key);
}

void JsonReader::error(const std::string& pointer, std::string message) {
  errors_.push_back(ConfigError{pointer, std::move(message)});
}

const nlohmann::json* JsonReader::take(const char* key) {
  if (!node_) return nullptr;
  consumed_.insert(key);
  const auto it = node_->find(key);
  return it == node_->end() ? nullptr : &*it;
}

void JsonReader::get_string(const char* key, std::string& out, bool non_empty) {
  const auto* v = take(key);
  if (!v) return;
  if (!v->is_string()) {
    error(child_pointer(key), "expected a string, got " + json_type_name(*v));
    return;
  }
  if (non_empty && v->get_ref<const std::string&>().empty()) {
    error(child_pointer(key), "expected a non-empty string");
    return;
  }
  out = v->get<std::string>();
}

void JsonReader::get_optional_string(const char* key, std::optional<std::string>& out) {
  std::string s;
  const auto before = errors_.size();
  if (!has(key)) { take(key); return; }
  get_string(key, s, true);
  if (errors_.size() == before) out = s;
}

void JsonReader::get_enum(const char* key, std::string& out,
                          std::initializer_list<const char*> choices) {
  const auto* v = take(key);
  if (!v) return;
  std::string expected = "expected one of";
  for (const char* c : choices) expected += std::string(" \"") + c + "\"";
  if (!v->is_string()) {
    error(child_pointer(key), expected + ", got " + json_type_name(*v));
    return;
  }
  const auto& s = v->get_ref<const std::string&>();
  if (std::none_of(choices.begin(), choices.end(), [&](const char* c) { return s == c; })) {
    error(child_pointer(key), expected + ", got \"" + s + "\"");
    return;
  }
  out = s;
}

void JsonReader::get_bool(const char* key, bool& out) {
  const auto* v = take(key);
  if (!v) return;
  if (!v->is_boolean()) {
    error(child_pointer(key), "expected true or false, got " + json_type_name(*v));
    return;
  }
  out = v->get<bool>();
}

void JsonReader::get_duration_ms(const char* key, std::chrono::milliseconds& out,
                                 std::chrono::milliseconds min, std::chrono::milliseconds max) {
  const auto* v = take(key);
  if (!v) return;
  const std::string expected = "expected a duration string like \"500ms\", \"5s\", \"10m\", \"6h\" from " +
                               format_duration(min) + " to " + format_duration(max);
  if (!v->is_string()) {
    error(child_pointer(key), expected + ", got " + json_type_name(*v));
    return;
  }
  const auto d = parse_duration(v->get_ref<const std::string&>());
  if (!d || *d < min || *d > max) {
    error(child_pointer(key), expected + ", got \"" + v->get<std::string>() + "\"");
    return;
  }
  out = *d;
}

void JsonReader::get_duration_s(const char* key, std::chrono::seconds& out,
                                std::chrono::seconds min, std::chrono::seconds max) {
  std::chrono::milliseconds ms = out;
  const auto before = errors_.size();
  get_duration_ms(key, ms, min, max);
  if (errors_.size() == before) out = std::chrono::duration_cast<std::chrono::seconds>(ms);
}

void JsonReader::get_string_list(const char* key, std::vector<std::string>& out) {
  const auto* v = take(key);
  if (!v) return;
  if (!v->is_array()) {
    error(child_pointer(key), "expected an array of strings, got " + json_type_name(*v));
    return;
  }
  std::vector<std::string> items;
  bool ok = true;
  for (std::size_t i = 0; i < v->size(); ++i) {
    const auto& item = (*v)[i];
    if (!item.is_string() || item.get_ref<const std::string&>().empty()) {
      error(child_pointer(key) + "/" + std::to_string(i),
            "expected a non-empty string, got " + json_type_name(item));
      ok = false;
      continue;
    }
    items.push_back(item.get<std::string>());
  }
  if (ok) out = std::move(items);
}

void JsonReader::get_port_list(const char* key, std::vector<std::uint16_t>& out) {
  const auto* v = take(key);
  if (!v) return;
  if (!v->is_array()) {
    error(child_pointer(key), "expected an array of ports (1-65535), got " + json_type_name(*v));
    return;
  }
  std::vector<std::uint16_t> ports;
  for (std::size_t i = 0; i < v->size(); ++i) {
    const auto& item = (*v)[i];
    if (!item.is_number_unsigned() || item.get<std::uint64_t>() < 1 ||
        item.get<std::uint64_t>() > 65535) {
      error(child_pointer(key) + "/" + std::to_string(i), "expected a port from 1 to 65535");
      continue;
    }
    ports.push_back(static_cast<std::uint16_t>(item.get<std::uint64_t>()));
  }
  out = std::move(ports);
}

void JsonReader::get_uid_list(const char* key, std::vector<std::uint32_t>& out) {
  const auto* v = take(key);
  if (!v) return;
  if (!v->is_array()) {
    error(child_pointer(key), "expected an array of UIDs, got " + json_type_name(*v));
    return;
  }
  std::vector<std::uint32_t> uids;
  for (std::size_t i = 0; i < v->size(); ++i) {
    const auto& item = (*v)[i];
    if (!item.is_number_unsigned() || item.get<std::uint64_t>() > 0xFFFFFFFEull) {
      error(child_pointer(key) + "/" + std::to_string(i), "expected a UID from 0 to 4294967294");
      continue;
    }
    uids.push_back(static_cast<std::uint32_t>(item.get<std::uint64_t>()));
  }
  out = std::move(uids);
}

void JsonReader::get_host_port(const char* key, std::string& out) {
  const auto* v = take(key);
  if (!v) return;
  const std::string expected = "expected \"host:port\" such as \"127.0.0.1:3128\" or \"[::1]:3128\"";
  if (!v->is_string()) {
    error(child_pointer(key), expected + ", got " + json_type_name(*v));
    return;
  }
  const auto& s = v->get_ref<const std::string&>();
  const auto colon = s.rfind(':');
  bool ok = colon != std::string::npos && colon > 0 && colon + 1 < s.size();
  if (ok) {
    unsigned port = 0;
    const auto* first = s.data() + colon + 1;
    const auto* last = s.data() + s.size();
    const auto [p, ec] = std::from_chars(first, last, port);
    ok = ec == std::errc{} && p == last && port <= 65535;
    const std::string host = s.substr(0, colon);
    if (host.front() == '[') ok = ok && host.back() == ']' && host.size() > 2;
    else ok = ok && host.find(':') == std::string::npos;
  }
  if (!ok) {
    error(child_pointer(key), expected + ", got \"" + s + "\"");
    return;
  }
  out = s;
}

void JsonReader::get_secret(const char* key, std::optional<SecretRef>& out) {
  const auto* v = take(key);
  if (!v) return;
  const std::string expected =
      "expected {\"env\": \"NAME\"} or {\"file\": \"/path\"} (secrets are never written inline)";
  if (!v->is_object() || v->size() != 1 ||
      !(v->contains("env") || v->contains("file")) || !v->begin()->is_string() ||
      v->begin()->get_ref<const std::string&>().empty()) {
    error(child_pointer(key), expected);
    return;
  }
  SecretRef ref;
  ref.kind = v->contains("env") ? SecretRef::Kind::env : SecretRef::Kind::file;
  ref.name = v->begin()->get<std::string>();
  out = ref;
}

void JsonReader::get_value_ref(const char* key, ValueRef& out) {
  const auto* v = take(key);
  if (!v) return;
  if (v->is_string() && !v->get_ref<const std::string&>().empty()) {
    out = ValueRef{v->get<std::string>(), std::nullopt};
    return;
  }
  if (v->is_object() && v->size() == 1 && v->contains("env") && (*v)["env"].is_string() &&
      !(*v)["env"].get_ref<const std::string&>().empty()) {
    out = ValueRef{out.literal, (*v)["env"].get<std::string>()};
    return;
  }
  error(child_pointer(key), "expected a non-empty string or {\"env\": \"NAME\"}");
}

const nlohmann::json* JsonReader::object(const char* key) {
  const auto* v = take(key);
  if (!v) return nullptr;
  if (!v->is_object()) {
    error(child_pointer(key), "expected an object, got " + json_type_name(*v));
    return nullptr;
  }
  return v;
}

const nlohmann::json* JsonReader::array(const char* key) {
  const auto* v = take(key);
  if (!v) return nullptr;
  if (!v->is_array()) {
    error(child_pointer(key), "expected an array, got " + json_type_name(*v));
    return nullptr;
  }
  return v;
}

void JsonReader::finish() {
  if (!node_) return;
  for (const auto& [key, value] : node_->items()) {
    if (!consumed_.contains(key)) {
      error(pointer_ + "/" + escape_pointer_token(key), "unknown key \"" + key + "\"");
    }
  }
}

}  // namespace sallyport::config

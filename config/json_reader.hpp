#pragma once
// A strict reader over one JSON object: each get_* consumes a key, checks its type and range,
// and records an error with the JSON pointer; finish() reports every key nobody consumed.
#include "config/loader.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

namespace sallyport::config {

class JsonReader {
 public:
  JsonReader(const nlohmann::json* node, std::string pointer, std::vector<ConfigError>& errors);

  bool valid() const { return node_ != nullptr; }
  bool has(const char* key) const;
  const std::string& pointer() const { return pointer_; }
  std::string child_pointer(const char* key) const;

  void get_string(const char* key, std::string& out, bool non_empty = false);
  void get_optional_string(const char* key, std::optional<std::string>& out);
  void get_enum(const char* key, std::string& out, std::initializer_list<const char*> choices);
  void get_bool(const char* key, bool& out);
  template <typename Int>
  void get_uint(const char* key, Int& out, std::uint64_t min, std::uint64_t max);
  void get_duration_ms(const char* key, std::chrono::milliseconds& out,
                       std::chrono::milliseconds min, std::chrono::milliseconds max);
  void get_duration_s(const char* key, std::chrono::seconds& out, std::chrono::seconds min,
                      std::chrono::seconds max);
  void get_string_list(const char* key, std::vector<std::string>& out);
  void get_port_list(const char* key, std::vector<std::uint16_t>& out);
  void get_uid_list(const char* key, std::vector<std::uint32_t>& out);
  void get_host_port(const char* key, std::string& out);
  void get_secret(const char* key, std::optional<SecretRef>& out);
  void get_value_ref(const char* key, ValueRef& out);

  // Sub-object / array access: returns nullptr (and records an error) on a type mismatch,
  // nullptr without error when absent.
  const nlohmann::json* object(const char* key);
  const nlohmann::json* array(const char* key);

  void error(const std::string& pointer, std::string message);
  void finish();  // unknown keys are errors

 private:
  const nlohmann::json* take(const char* key);

  const nlohmann::json* node_;
  std::string pointer_;
  std::vector<ConfigError>& errors_;
  std::set<std::string> consumed_;
};

std::string json_type_name(const nlohmann::json& value);
std::string escape_pointer_token(std::string_view token);

template <typename Int>
void JsonReader::get_uint(const char* key, Int& out, std::uint64_t min, std::uint64_t max) {
  const auto* v = take(key);
  if (!v) return;
  if (!v->is_number_integer() || (v->is_number_integer() && v->get<std::int64_t>() < 0 && !v->is_number_unsigned())) {
    error(child_pointer(key), "expected an integer from " + std::to_string(min) + " to " +
                                  std::to_string(max) + ", got " + json_type_name(*v));
    return;
  }
  const auto n = v->get<std::uint64_t>();
  if (n < min || n > max) {
    error(child_pointer(key), "expected an integer from " + std::to_string(min) + " to " +
                                  std::to_string(max) + ", got " + std::to_string(n));
    return;
  }
  out = static_cast<Int>(n);
}

}  // namespace sallyport::config

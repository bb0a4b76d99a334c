#include "governance/attestation.hpp"

#include <openssl/evp.h>

#include <array>
#include <sstream>
#include <stdexcept>

#include "governance/audit_record.hpp"
#include "governance/canonical_json.hpp"

namespace sallyport::attest {
namespace {

using Json = nlohmann::json;

Json time_or_null(const std::optional<std::chrono::system_clock::time_point>& tp) {
  if (!tp) return nullptr;
  return audit::format_rfc3339_micros(*tp);
}

Json blocklist_json(const BlocklistFacts& b) {
  Json feeds = Json::array();
  for (const auto& f : b.feeds) {
    feeds.push_back({{"name", f.name},
                     {"domains", f.domains},
                     {"ips", f.ips},
                     {"last_refresh", time_or_null(f.last_refresh)}});
  }
  return {{"sha256", b.sha256},
          {"domains", b.domains},
          {"ips", b.ips},
          {"last_refresh", time_or_null(b.last_refresh)},
          {"feeds", feeds}};
}

Json kernel_guard_json(const KernelGuardFacts& k) {
  if (!k.attached) return {{"attached", false}, {"reason", k.reason}};
  return {{"attached", true},   {"name", k.name},           {"mode", k.mode},
          {"cgroup", k.cgroup}, {"cgroup_id", k.cgroup_id}, {"programs", k.programs}};
}

Json audit_head_json(const AuditHeadFacts& a) {
  if (!a.error.empty()) return {{"error", a.error}};
  if (!a.seq) return Json::object();
  return {{"seq", *a.seq}, {"hash", a.hash}};
}

std::string signed_bytes(const Json& statement) {
  Json body = statement;
  body.erase("signature");
  return audit::canonical_json(body);
}

std::span<const std::uint8_t> as_bytes(const std::string& text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// Required top-level fields and their JSON types; a statement missing one is malformed.
struct FieldShape {
  const char* name;
  Json::value_t type;
};
constexpr std::array<FieldShape, 11> kRequiredFields{{
    {"format_version", Json::value_t::number_unsigned},
    {"sallyport_version", Json::value_t::string},
    {"generated_at", Json::value_t::string},
    {"generated_by", Json::value_t::string},
    {"identity", Json::value_t::object},
    {"config", Json::value_t::object},
    {"tool_policy", Json::value_t::object},
    {"blocklist", Json::value_t::object},
    {"kernel_guard", Json::value_t::object},
    {"audit_head", Json::value_t::object},
    {"signature", Json::value_t::string},
}};

bool has_type(const Json& value, Json::value_t type) {
  if (type == Json::value_t::number_unsigned)
    return value.is_number_integer() && value.get<long long>() >= 0;
  return value.type() == type;
}

std::optional<std::string> shape_error(const Json& s) {
  if (!s.is_object()) return "malformed statement: expected a JSON object";
  for (const auto& field : kRequiredFields) {
    const auto it = s.find(field.name);
    if (it == s.end())
      return std::string("malformed statement: missing field \"") + field.name + "\"";
    if (!has_type(*it, field.type)) {
      return std::string("malformed statement: field \"") + field.name + "\" has the wrong type";
    }
  }
  if (s["format_version"].get<long long>() != kFormatVersion) {
    return "unsupported format_version " + s["format_version"].dump() + " (this build reads " +
           std::to_string(kFormatVersion) + ")";
  }
  const auto& id = s["identity"];
  for (const char* key : {"key_id", "public_key"}) {
    if (!id.contains(key) || !id[key].is_string()) {
      return std::string("malformed statement: identity.") + key + " missing or not a string";
    }
  }
  return std::nullopt;
}

}  // namespace

std::string canonical_sha256(const Json& value) {
  return audit::to_hex(audit::sha256(audit::canonical_json(value)));
}

struct EntryDigest::State {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~State() { EVP_MD_CTX_free(ctx); }
};

EntryDigest::EntryDigest() : state_(std::make_unique<State>()) {
  if (!state_->ctx || EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 digest context unavailable");
  }
}

EntryDigest::~EntryDigest() = default;

void EntryDigest::add(std::string_view entry) {
  EVP_DigestUpdate(state_->ctx, entry.data(), entry.size());
  EVP_DigestUpdate(state_->ctx, "\n", 1);
}

std::string EntryDigest::hex() {
  std::array<std::uint8_t, 32> digest{};
  unsigned int size = 0;
  EVP_DigestFinal_ex(state_->ctx, digest.data(), &size);
  return audit::to_hex(digest);
}

Json statement_body(const StatementInputs& in, const identity::PublicKey& key) {
  const auto& id = in.identity;
  return {{"format_version", kFormatVersion},
          {"sallyport_version", in.sallyport_version},
          {"generated_at", audit::format_rfc3339_micros(in.generated_at)},
          {"generated_by", in.generated_by},
          {"identity",
           {{"sandbox", id.sandbox},
            {"tenant", id.tenant},
            {"namespace", id.namespace_},
            {"pod", id.pod},
            {"key_id", key.key_id()},
            {"public_key", key.hex()},
            {"algorithm", "ed25519"}}},
          {"config", {{"sha256", in.config_sha256}, {"secrets", "references-only"}}},
          {"tool_policy",
           {{"file", in.tool_policy.file ? Json(*in.tool_policy.file) : Json(nullptr)},
            {"sha256", in.tool_policy.sha256}}},
          {"blocklist", blocklist_json(in.blocklist)},
          {"kernel_guard", kernel_guard_json(in.kernel_guard)},
          {"audit_head", audit_head_json(in.audit_head)}};
}

Json sign_statement(const StatementInputs& inputs, const identity::Identity& key) {
  Json statement = statement_body(inputs, key.public_key());
  const std::string message = audit::canonical_json(statement);
  statement["signature"] = audit::to_hex(key.sign(as_bytes(message)));
  return statement;
}

VerifyResult verify_statement_text(std::string_view text, const identity::PublicKey& expected) {
  const Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return {false, "malformed statement: not valid JSON", ""};
  return verify_statement(parsed, expected);
}

VerifyResult verify_statement(const Json& s, const identity::PublicKey& expected) {
  if (auto error = shape_error(s)) return {false, *error, ""};
  const auto& id = s["identity"];
  VerifyResult result{false, "", id["key_id"].get<std::string>()};
  const bool key_id_matches = result.key_id == expected.key_id();
  const bool public_key_matches = id["public_key"].get<std::string>() == expected.hex();
  if (!key_id_matches && !public_key_matches) {
    result.reason = "wrong key: the statement is signed by key id " + result.key_id +
                    ", the expected key has id " + expected.key_id();
    return result;
  }
  if (!key_id_matches || !public_key_matches) {
    result.reason =
        "tampered identity: identity.key_id and identity.public_key do not both name "
        "the expected key " +
        expected.key_id();
    return result;
  }
  identity::Signature signature{};
  if (!audit::from_hex(s["signature"].get<std::string>(), signature.data(), signature.size())) {
    result.reason = "malformed statement: signature is not 128 hex digits";
    return result;
  }
  const std::string message = signed_bytes(s);
  if (!expected.verify(as_bytes(message), signature)) {
    result.reason = "bad signature: the statement was changed after it was signed";
    return result;
  }
  result.ok = true;
  return result;
}

std::string human_summary(const Json& s) {
  std::ostringstream out;
  const auto str = [](const Json& j, const char* key) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::string("-");
    return it->is_string() ? it->get<std::string>() : it->dump();
  };
  const auto& id = s["identity"];
  out << "sallyport " << str(s, "sallyport_version") << " attestation (format "
      << str(s, "format_version") << "), generated " << str(s, "generated_at") << "\n"
      << "  identity:     " << str(id, "tenant") << "/" << str(id, "namespace") << "/"
      << str(id, "pod") << " sandbox " << str(id, "sandbox") << "\n"
      << "  key:          ed25519 " << str(id, "key_id") << " (" << str(id, "public_key") << ")\n"
      << "  config:       sha256 " << str(s["config"], "sha256") << " (secrets as references)\n"
      << "  tool policy:  "
      << (s["tool_policy"]["file"].is_null()
              ? std::string("none")
              : str(s["tool_policy"], "file") + " sha256 " + str(s["tool_policy"], "sha256"))
      << "\n";
  const auto& b = s["blocklist"];
  out << "  blocklist:    sha256 " << str(b, "sha256") << ", " << str(b, "domains") << " domains, "
      << str(b, "ips") << " IPs, last refresh " << str(b, "last_refresh") << "\n";
  for (const auto& f : b["feeds"]) {
    out << "    feed " << str(f, "name") << ": " << str(f, "domains") << " domains, "
        << str(f, "ips") << " IPs, refreshed " << str(f, "last_refresh") << "\n";
  }
  const auto& k = s["kernel_guard"];
  if (k.value("attached", false)) {
    out << "  kernel guard: " << str(k, "name") << " mode " << str(k, "mode") << " on cgroup "
        << str(k, "cgroup") << " (" << k["programs"].size() << " programs)\n";
  } else {
    out << "  kernel guard: not attached (" << str(k, "reason") << ")\n";
  }
  const auto& a = s["audit_head"];
  if (a.contains("error")) {
    out << "  audit head:   unreadable (" << str(a, "error") << ")\n";
  } else if (a.contains("seq")) {
    out << "  audit head:   seq " << str(a, "seq") << " hash " << str(a, "hash") << "\n";
  } else {
    out << "  audit head:   empty (no record yet)\n";
  }
  out << "  signature:    " << str(s, "signature") << "\n";
  return out.str();
}

}  // namespace sallyport::attest

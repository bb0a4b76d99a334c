#include "governance/audit_cli.hpp"

#include <sys/stat.h>

#include <chrono>
#include <deque>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/redact.hpp"
#include "governance/audit_segment.hpp"
#include "governance/identity.hpp"

namespace sallyport::audit {
namespace {

nlohmann::json result_json(const VerifyResult& r) {
  nlohmann::json j = {{"ok", r.ok},          {"files", r.files},
                      {"records", r.records}, {"checkpoints", r.checkpoints},
                      {"first_seq", r.first_seq}, {"last_seq", r.last_seq},
                      {"last_hash", r.last_hash}, {"key_id", r.key_id},
                      {"unsigned_tail_records", r.unsigned_tail_records},
                      {"notes", r.notes}};
  if (r.io_error) j["error"] = *r.io_error;
  if (r.bad) {
    j["bad"] = {{"reason", to_string(r.bad->reason)}, {"file", r.bad->file.string()},
                {"line", r.bad->line},               {"offset", r.bad->offset},
                {"message", r.bad->message},         {"record", r.bad->record}};
    if (r.bad->seq) j["bad"]["seq"] = *r.bad->seq;
  }
  return j;
}

std::string field(const nlohmann::json& j, const char* key) {
  if (!j.contains(key)) return "";
  const auto& v = j[key];
  return escape_untrusted(v.is_string() ? v.get<std::string>() : v.dump());
}

}  // namespace

int run_audit_verify(const std::string& path, const std::optional<std::string>& pubkey, bool json,
                     std::ostream& out) {
  return run_audit_verify(path, pubkey, json, false, out);
}

int run_audit_verify(const std::string& path, const std::optional<std::string>& pubkey, bool json,
                     bool allow_open_tail, std::ostream& out) {
  VerifyOptions options;
  options.allow_open_tail = allow_open_tail;
  if (pubkey) {
    std::string error;
    options.pubkey = identity::PublicKey::from_hex_or_file(*pubkey, error);
    if (!options.pubkey) {
      if (json) out << nlohmann::json{{"ok", false}, {"error", "--pubkey: " + error}}.dump() << "\n";
      else out << "error: --pubkey: " << error << "\n";
      return 2;
    }
  }
  const VerifyResult r = verify_log(path, options);
  if (json) {
    out << result_json(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else if (r.io_error) {
    out << "error: " << *r.io_error << "\n";
  } else {
    for (const auto& note : r.notes) out << "note: " << note << "\n";
    if (r.ok) {
      out << "OK: " << r.records << " records (seq " << r.first_seq << ".." << r.last_seq << ") in "
          << r.files << " file(s), " << r.checkpoints << " signed checkpoints, key " << r.key_id
          << ", head " << r.last_hash << "\n";
      if (r.unsigned_tail_records != 0)
        out << "warning: " << r.unsigned_tail_records << " newest record(s) not yet signed\n";
    } else {
      const auto& bad = *r.bad;
      out << "BROKEN: " << to_string(bad.reason) << " at " << bad.file.string() << ":" << bad.line
          << " (byte " << bad.offset << (bad.seq ? ", seq " + std::to_string(*bad.seq) : "")
          << ")\n  " << escape_untrusted(bad.message) << "\n  record: "
          << escape_untrusted(bad.record) << "\n";
    }
  }
  if (r.io_error) return 2;
  return r.ok ? 0 : 1;
}

std::string format_record_pretty(std::string_view line) {
  const auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) return "(unparseable) " + escape_untrusted(line);
  std::string out = field(j, "ts") + " #" + field(j, "seq") + " " + field(j, "kind") + " " +
                    field(j, "decision") + " " + field(j, "reason") + " " + field(j, "sandbox") +
                    "/" + field(j, "tenant") + "/" + field(j, "namespace") + "/" + field(j, "pod");
  if (j.contains("task")) out += " task=" + field(j, "task");
  if (j.contains("step")) out += " step=" + field(j, "step");
  if (j.contains("detail")) {
    out += " ";
    out += escape_untrusted(j["detail"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  return out;
}

int run_audit_tail(const std::string& dir_or_file, bool follow, std::size_t lines, std::ostream& out) {
  std::error_code ec;
  const bool is_dir = std::filesystem::is_directory(dir_or_file, ec);
  auto newest = [&]() -> std::filesystem::path {
    if (!is_dir) return dir_or_file;
    const auto segments = list_segments(dir_or_file);
    return segments.empty() ? std::filesystem::path{} : segments.back();
  };
  std::filesystem::path current = newest();
  if (current.empty() || !std::filesystem::exists(current, ec)) {
    out << "error: " << dir_or_file << ": no audit segment found\n";
    return 2;
  }
  std::string data, error;
  if (!read_whole_file(current, data, error)) {
    out << "error: " << error << "\n";
    return 2;
  }
  std::size_t complete = data.rfind('\n');
  complete = complete == std::string::npos ? 0 : complete + 1;
  std::deque<std::string_view> last;
  std::string_view all(data.data(), complete);
  for (std::size_t pos = 0; pos < all.size();) {
    const std::size_t end = all.find('\n', pos);
    last.push_back(all.substr(pos, end - pos));
    if (last.size() > lines) last.pop_front();
    pos = end + 1;
  }
  for (const auto& line : last) out << format_record_pretty(line) << "\n";
  out.flush();
  std::uint64_t offset = complete;
  while (follow) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (!read_whole_file(current, data, error)) return 2;
    std::size_t end;
    while (offset < data.size() && (end = data.find('\n', offset)) != std::string::npos) {
      out << format_record_pretty(std::string_view(data).substr(offset, end - offset)) << "\n";
      offset = end + 1;
    }
    out.flush();
    const auto next = newest();
    if (next != current && offset >= data.size()) {  // rotated: continue in the new segment
      current = next;
      offset = 0;
    }
  }
  return 0;
}

int run_keygen(const std::string& state_dir, std::ostream& out, bool force) {
  std::string error;
  std::error_code ec;
  if (!force && std::filesystem::exists(std::filesystem::path(state_dir) / identity::kSecretKeyFile, ec)) {
    out << "error: " << state_dir << "/" << identity::kSecretKeyFile
        << " already exists; refusing to overwrite it (use --force)\n";
    return 1;
  }
  auto id = identity::Identity::create(state_dir, force, error);
  if (!id) {
    out << "error: " << error << "\n";
    return 2;
  }
  out << "key_id " << id->key_id() << "\npublic_key " << id->public_key().hex() << "\n";
  return 0;
}

}  // namespace sallyport::audit

// Trust state file: {"version":1,"agents":{"<id>":{"score":N,"window_hour":H,"recovered":K,
// "last_violation":S}}}, written atomically with mode 0600 and read back strictly.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "governance/trust.hpp"

namespace sallyport::governance {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxStateBytes = 8 * 1024 * 1024;

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string parent_dir(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

std::optional<std::string> write_trust_file_atomically(const std::string& path, std::string_view content) {
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  ::unlink(temp.c_str());  // a leftover from a crash of this pid number
  Fd file{::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)};
  if (file.fd < 0) return errno_text(("create " + temp).c_str());
  if (::fchmod(file.fd, 0600) != 0 || !write_all(file.fd, content) || ::fsync(file.fd) != 0) {
    std::string error = errno_text(("write " + temp).c_str());
    ::unlink(temp.c_str());
    return error;
  }
  ::close(file.fd);
  file.fd = -1;
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    std::string error = errno_text(("rename to " + path).c_str());
    ::unlink(temp.c_str());
    return error;
  }
  Fd dir{::open(parent_dir(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (dir.fd < 0 || ::fsync(dir.fd) != 0) return errno_text(("fsync dir of " + path).c_str());
  return std::nullopt;
}

std::string serialize_trust_state(const std::map<std::string, TrustRegistry::AgentState, std::less<>>& agents) {
  json document = {{"version", 1}, {"agents", json::object()}};
  for (const auto& [agent, state] : agents) {
    document["agents"][agent] = {{"score", state.score},
                                 {"window_hour", state.window_hour},
                                 {"recovered", state.recovered_in_window},
                                 {"last_violation", state.last_violation}};
  }
  return document.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

namespace {

// Reads one non-negative integer field of an agent record; false when missing or wrong.
bool read_field(const json& record, const char* key, std::int64_t max, std::int64_t& out) {
  auto it = record.find(key);
  if (it == record.end() || !it->is_number_integer()) return false;
  const auto value = it->get<std::int64_t>();
  if (value < 0 || value > max) return false;
  out = value;
  return true;
}

}  // namespace

TrustStateLoad load_trust_state(const std::string& path) {
  TrustStateLoad result;
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
  if (file.fd < 0) {
    if (errno != ENOENT) result.error = errno_text(("open " + path).c_str());
    return result;
  }
  struct stat info {};
  if (::fstat(file.fd, &info) != 0) {
    result.error = errno_text(("stat " + path).c_str());
    return result;
  }
  if (!S_ISREG(info.st_mode) || static_cast<std::size_t>(info.st_size) > kMaxStateBytes) {
    result.error = path + ": not a regular file of at most 8 MiB";
    return result;
  }
  std::string text(static_cast<std::size_t>(info.st_size), '\0');
  std::size_t filled = 0;
  while (filled < text.size()) {
    const ssize_t n = ::read(file.fd, text.data() + filled, text.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    filled += static_cast<std::size_t>(n);
  }
  text.resize(filled);
  const json document = json::parse(text, nullptr, false);
  if (!document.is_object() || document.value("version", 0) != 1 || !document.contains("agents") ||
      !document["agents"].is_object()) {
    result.error = path + ": expected {\"version\":1,\"agents\":{...}}";
    return result;
  }
  for (const auto& [agent, record] : document["agents"].items()) {
    TrustRegistry::AgentState state;
    std::int64_t score = 0, recovered = 0;
    const bool ok = record.is_object() && read_field(record, "score", 1000, score) &&
                    read_field(record, "window_hour", INT64_MAX, state.window_hour) &&
                    read_field(record, "recovered", 1000, recovered) &&
                    read_field(record, "last_violation", INT64_MAX, state.last_violation);
    if (!ok) {
      result.error = path + ": /agents/" + agent + ": expected score 0..1000, window_hour, recovered, last_violation";
      result.agents.clear();
      return result;
    }
    state.score = static_cast<int>(score);
    state.recovered_in_window = static_cast<int>(recovered);
    result.agents.emplace(agent, state);
  }
  return result;
}

}  // namespace sallyport::governance

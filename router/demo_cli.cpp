#include "router/demo_cli.hpp"

#include "router/demo_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sallyport::router {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr std::string_view kScript = "demo/rogue_agent.sh";

struct DemoOptions {
  bool no_color = false;
  std::string script_dir;
};

std::string errno_text(int err) {
  return std::strerror(err);
}

// Writes `content` to a new file (never follows or replaces an existing path).
std::optional<std::string> write_new_file(const std::filesystem::path& path,
                                          std::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return "create " + path.string() + ": " + errno_text(errno);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      return "write " + path.string() + ": " + errno_text(err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) return "close " + path.string() + ": " + errno_text(errno);
  return std::nullopt;
}

struct Extracted {
  std::string dir;    // set on success
  std::string error;  // set on failure
};

// Extracts the embedded files into a fresh /tmp/sallyport-demo-XXXXXX (0755: the agent and
// sidecar UIDs run the Python helpers from there); nothing is left behind on failure.

Extracted extract_embedded_files() {
  std::string templ = "/tmp/sallyport-demo-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr)
    return {"", "mkdtemp /tmp/sallyport-demo-*: " + errno_text(errno)};
  const std::filesystem::path root = templ;
  auto fail = [&](std::string message) {
    std::error_code ignored;
    std::filesystem::remove_all(root, ignored);
    return Extracted{"", std::move(message)};
  };
  if (::chmod(root.c_str(), 0755) != 0)
    return fail("chmod " + root.string() + ": " + errno_text(errno));
  for (const auto& file : embedded_demo_files()) {
    const auto path = root / file.path;
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) return fail("mkdir " + path.parent_path().string() + ": " + ec.message());
    // 0755 whatever the umask: the helpers run as the agent and sidecar UIDs.
    for (auto dir = path.parent_path(); dir != root; dir = dir.parent_path()) {
      if (::chmod(dir.c_str(), 0755) != 0)
        return fail("chmod " + dir.string() + ": " + errno_text(errno));
    }
    if (auto error = write_new_file(path, file.content)) return fail(*error);
    if (::chmod(path.c_str(), 0644) != 0)
      return fail("chmod " + path.string() + ": " + errno_text(errno));
  }
  return {root.string(), ""};
}

std::optional<std::string> self_path() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return std::nullopt;
  return std::string(buf, static_cast<std::size_t>(n));
}

int run_demo(const DemoOptions& options) {
  if (::geteuid() != 0) {
    std::cerr << "sallyport demo: must run as root: it creates network namespaces and a cgroup and "
                 "attaches the eBPF kernel guard (try: sudo sallyport demo)\n";
    return kExitUsage;
  }
  const auto self = self_path();
  if (!self) {
    std::cerr << "sallyport demo: cannot find this binary (/proc/self/exe): " << errno_text(errno)
              << "\n";
    return kExitFailed;
  }
  std::string base = options.script_dir;
  std::string cleanup_dir;
  if (base.empty()) {
    auto extracted = extract_embedded_files();
    if (!extracted.error.empty()) {
      std::cerr << "sallyport demo: cannot unpack the demo files: " << extracted.error << "\n";
      return kExitFailed;
    }
    base = cleanup_dir = extracted.dir;
  }
  const std::string script = base + "/" + std::string(kScript);
  std::vector<std::string> args{"bash", script, "--bin", *self};
  if (!cleanup_dir.empty()) args.insert(args.end(), {"--cleanup-dir", cleanup_dir});
  if (options.no_color) args.emplace_back("--no-color");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::cout.flush();
  std::cerr.flush();
  ::execvp("bash", argv.data());
  const int err = errno;
  std::cerr << "sallyport demo: cannot run bash " << script << ": " << errno_text(err) << "\n";
  if (!cleanup_dir.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(cleanup_dir, ignored);
  }
  return kExitFailed;
}

}  // namespace

void register_demo_cli(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<DemoOptions>();
  auto* cmd = app.add_subcommand(
      "demo",
      "Replay a rogue AI agent in a throw-away simulated pod and show what stops it (root)");
  cmd->add_flag("--no-color", options->no_color,
                "Plain output (the default when stdout is not a terminal)");
  cmd->add_option("--script-dir", options->script_dir,
                  "Run DIR/demo/rogue_agent.sh from a checkout instead of the embedded copy")
      ->check(CLI::ExistingDirectory);
  cmd->callback([options, &exit_code] { exit_code = run_demo(*options); });
}

}  // namespace sallyport::router

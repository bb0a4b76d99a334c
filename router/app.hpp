#pragma once
// The sallyport process: loads the config, starts every listener and background component on
// one io_context with N worker threads, and handles signals:
//   SIGTERM/SIGINT: stop accepting, drain in-flight work up to the drain deadline, flush, exit 0.
//   SIGHUP: reload config (and what hangs off it) atomically; a bad file is rejected with a
//           logged error and the running config stays.
#include <chrono>
#include <string>

namespace sallyport::router {

struct RunOptions {
  std::string config_path;  // empty = the embedded default config
  std::chrono::seconds drain_timeout{15};
};

// Runs until a termination signal; returns the process exit code (0 clean, 1 start-up error).
int run(const RunOptions& options);

}  // namespace sallyport::router

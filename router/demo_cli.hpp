#pragma once
// `sallyport demo`: a self-contained replay of a rogue AI agent in the pod simulator (root only).
//
//   sallyport demo [--no-color] [--script-dir DIR]
//
// Writes the demo files embedded in this binary (router/demo.cmake) to a private directory
// /tmp/sallyport-demo-XXXXXX and replaces this process with
//   bash DIR/demo/rogue_agent.sh --bin <this binary> --cleanup-dir DIR [--no-color]
// which removes that directory when it exits. With --script-dir, runs DIR/demo/rogue_agent.sh
// from a checkout instead (for editing the demo without rebuilding).
// Exit codes (from the script): 0 every attack was stopped and the audit log verifies, 1 some
// step was not stopped or setup failed, 2 not root / missing tools / bad arguments.
#include <CLI/CLI.hpp>

namespace sallyport::router {

// Adds `demo` to `app`. On success the process is replaced by the script and never returns to
// main(); on an early failure the callback stores 1 or 2 in `exit_code`.
void register_demo_cli(CLI::App& app, int& exit_code);

}  // namespace sallyport::router

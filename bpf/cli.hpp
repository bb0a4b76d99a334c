#pragma once
// Kernel guard subcommands for the `sallyport` CLI (router/main.cpp) and the dev driver.
//
//   bpf attach --cgroup PATH [--name N] [--agent-uid 1000]... [--router-uid 1001]...
//              [--resolver IP]... [--metadata PREFIX]... [--mode off|observe|enforce]
//              [--admin-port 8787] [--pin-dir /sys/fs/bpf/sallyport]
//   bpf detach [--name N] [--pin-dir D]
//   bpf status [--json] [--name N] [--pin-dir D]
//   bpf quarantine --cgroup PATH [--name N] [--pin-dir D] on|off
//   bpf mode [--name N] [--pin-dir D] off|observe|enforce
//   bpf events [--name N] [--pin-dir D] [--count N] [--timeout-ms T] [--identity T/NS/POD]
//              [--pod-map POD_UID=T/NS/POD]...        (JSON lines, for operators and tests)
//   probe [--json] [--resolver IP] [--imds IP] [--c2 HOST:PORT] [--other-dns IP]
//         [--outside-udp HOST:PORT] [--timeout-ms T] [--i-am-in-a-test-namespace]
//
// Exit codes: 0 success; 1 the operation failed (message on stderr); 2 refused (probe in the
// host network namespace, invalid arguments); 3 `bpf status`: no guard attached or BPF
// unavailable (warning on stderr).
#include <CLI/CLI.hpp>

namespace sallyport::bpf {

// Adds `bpf …` and `probe` to `app`. A failing subcommand throws CLI::RuntimeError(code) from
// its callback, so `CLI11_PARSE(app, argc, argv)` turns it into the exit code silently.
void register_bpf_cli(CLI::App& app);

// Same, for a main() that collects exit codes in a variable (as router/main.cpp does): each
// subcommand's callback stores its code in `exit_code` (which must outlive app.parse()).
void register_bpf_cli(CLI::App& app, int& exit_code);

}  // namespace sallyport::bpf

#pragma once
// Internal to bpf/cli*.cpp: how subcommand callbacks report their exit code.
#include <CLI/CLI.hpp>
#include <functional>

namespace sallyport::bpf {

using ExitSink = std::function<void(int)>;

void register_bpf_events_cli(CLI::App& bpf, const ExitSink& sink);  // cli_events.cpp
void register_probe_cli(CLI::App& app, const ExitSink& sink);       // cli_events.cpp

}  // namespace sallyport::bpf

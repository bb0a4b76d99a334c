// Developer driver for the kernel guard CLI until router/main.cpp wires register_bpf_cli into the
// real `sallyport` binary. Same subcommands, same exit codes.
#include <CLI/CLI.hpp>

#include "bpf/cli.hpp"

int main(int argc, char** argv) {
  CLI::App app{"sallyport kernel guard (development driver)"};
  app.require_subcommand(1);
  sallyport::bpf::register_bpf_cli(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}

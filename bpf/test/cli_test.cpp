// The CLI's exit-code contract in both registration styles (no BPF objects are touched: every
// case fails before loading anything, and nothing here sends packets).
#include <gtest/gtest.h>

#include <vector>

#include "bpf/cli.hpp"

namespace {

int run_with_variable(std::vector<std::string> args) {
  CLI::App app{"test"};
  int exit_code = 0;
  sallyport::bpf::register_bpf_cli(app, exit_code);
  std::vector<const char*> argv = {"sallyport"};
  for (const auto& a : args) argv.push_back(a.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return exit_code;
}

int run_with_throw(std::vector<std::string> args) {
  CLI::App app{"test"};
  sallyport::bpf::register_bpf_cli(app);
  std::vector<const char*> argv = {"sallyport"};
  for (const auto& a : args) argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}

TEST(BpfCli, DetachOfUnknownGuardFailsWithCode1InBothStyles) {
  const std::vector<std::string> args = {
      "bpf", "detach", "--name", "no-such-guard", "--pin-dir", ::testing::TempDir() + "/no-pins"};
  EXPECT_EQ(run_with_variable(args), 1);
  EXPECT_EQ(run_with_throw(args), 1);
}

TEST(BpfCli, InvalidGuardNameIsRefused) {
  EXPECT_EQ(run_with_variable({"bpf", "mode", "--name", "../etc", "enforce"}), 1);
}

TEST(BpfCli, UnknownModeIsAUsageError) {
  CLI::App app{"test"};
  int exit_code = 0;
  sallyport::bpf::register_bpf_cli(app, exit_code);
  const char* argv[] = {"sallyport", "bpf", "mode", "paranoid"};
  EXPECT_THROW(app.parse(4, argv), CLI::ValidationError);
}

TEST(BpfCli, EventsRejectsMalformedIdentity) {
  EXPECT_EQ(run_with_variable({"bpf", "events", "--identity", "only-two/parts", "--pin-dir",
                               ::testing::TempDir()}),
            2);
}

}  // namespace

#pragma once
// Helpers for blocklist tests: the shared real-feed copies and an independent line counter.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace sallyport::blocklist::test {

inline std::string shared_data(const std::string& relative) {
  return std::string(SALLYPORT_SHARED_DATA) + "/" + relative;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// Runs a shell pipeline (grep/awk over a shared data file) and returns the number it prints:
// the independent count the parser's result is compared with. -1 when it cannot run.
inline long shell_count(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  long value = -1;
  if (std::fscanf(pipe, "%ld", &value) != 1) value = -1;
  ::pclose(pipe);
  return value;
}

}  // namespace sallyport::blocklist::test

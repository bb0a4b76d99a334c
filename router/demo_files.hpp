#pragma once
// The files `sallyport demo` runs, embedded at build time by router/demo.cmake (the script, its
// Python helpers and the pod simulator pieces it reuses from tests/). Paths are relative to the
// repository root, so an extracted copy has the same layout as a checkout.
#include <span>
#include <string_view>

namespace sallyport::router {

struct EmbeddedDemoFile {
  std::string_view path;     // e.g. "demo/rogue_agent.sh"
  std::string_view content;  // exact bytes of the file at build time
};

// Every embedded file, in the order listed in router/demo.cmake. Defined in the generated
// demo_embedded_files.cpp.
std::span<const EmbeddedDemoFile> embedded_demo_files();

}  // namespace sallyport::router

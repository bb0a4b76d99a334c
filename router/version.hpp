#pragma once
#include <string_view>

namespace sallyport::router {
// From the CMake project version (router/CMakeLists.txt).
inline constexpr std::string_view kVersion = SALLYPORT_VERSION;
}  // namespace sallyport::router

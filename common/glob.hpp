#pragma once
// Shell-style glob with '*' (any run) and '?' (one byte); no character classes. Used for tool
// names in the tool policy and model names in provider routing.
#include <string_view>

namespace sallyport {

bool glob_match(std::string_view pattern, std::string_view text) noexcept;

}  // namespace sallyport

#pragma once
// Errors as values for the kernel guard's user space (shared/STYLE.md): every fallible call on a
// parse/attach/read path returns Result<T>, whose error carries a message that says what failed,
// where, and what was expected, plus the errno when one exists.
#include <string>
#include <utility>
#include <variant>

namespace sallyport::bpf {

struct Error {
  std::string message;
  int errno_value = 0;  // 0 when the failure did not come from a system call
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool ok() const noexcept { return std::holds_alternative<T>(state_); }
  explicit operator bool() const noexcept { return ok(); }
  [[nodiscard]] T& value() & { return std::get<T>(state_); }
  [[nodiscard]] const T& value() const& { return std::get<T>(state_); }
  [[nodiscard]] T&& value() && { return std::get<T>(std::move(state_)); }
  [[nodiscard]] const Error& error() const& { return std::get<Error>(state_); }

 private:
  std::variant<T, Error> state_;
};

// Result of an operation that produces nothing but may fail.
using Status = Result<std::monostate>;
inline Status ok_status() {
  return Status{std::monostate{}};
}

// "what: strerror(errno)" with the errno kept for callers that branch on it.
Error errno_error(std::string what, int errno_value);

}  // namespace sallyport::bpf

#pragma once
// Runs `on_expiry` (e.g. cancel a resolver or a UDP socket) when `deadline` passes, unless this
// object is destroyed first. For I/O objects without beast::tcp_stream's built-in timeouts.
// Must live on the same strand as the I/O object it cancels.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>

namespace sallyport::router {

class Deadline {
 public:
  Deadline(const boost::asio::any_io_executor& executor,
           std::chrono::steady_clock::time_point deadline, std::function<void()> on_expiry)
      : state_(std::make_shared<State>(State{std::move(on_expiry), false})),
        timer_(executor, deadline) {
    timer_.async_wait([state = state_](const boost::system::error_code& ec) {
      if (ec || !state->on_expiry) return;
      state->fired = true;
      state->on_expiry();
    });
  }
  ~Deadline() {
    state_->on_expiry = nullptr;  // a completion already queued must not touch the dead object
    timer_.cancel();
  }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  bool fired() const { return state_->fired; }

 private:
  struct State {
    std::function<void()> on_expiry;
    bool fired;
  };
  std::shared_ptr<State> state_;
  boost::asio::steady_timer timer_;
};

}  // namespace sallyport::router

#pragma once
// /readyz: sallyport is ready only when every registered component says so.
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace sallyport::router {

class Readiness {
 public:
  using Probe = std::function<bool()>;
  struct Status {
    bool ready = true;
    std::vector<std::pair<std::string, bool>> components;
  };

  void add(std::string component, Probe probe) {
    std::lock_guard lock(mutex_);
    probes_.emplace_back(std::move(component), std::move(probe));
  }

  Status check() const {
    std::lock_guard lock(mutex_);
    Status status;
    for (const auto& [name, probe] : probes_) {
      const bool ok = probe();
      status.ready = status.ready && ok;
      status.components.emplace_back(name, ok);
    }
    return status;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, Probe>> probes_;
};

}  // namespace sallyport::router

#pragma once
// State shared by the forward proxy's listener and its per-connection coroutines: the immutable
// options, the policy source, metrics, the event sink and the registry of open connections
// (for per-client caps and close_all()).
#include "router/forward_proxy.hpp"
#include "router/proxy_metrics.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace sallyport::router {

// The sockets one client connection owns; touched only on that connection's executor (its
// strand, or the single-threaded event loop it was accepted on).
class ConnectionControl {
 public:
  explicit ConnectionControl(boost::asio::any_io_executor strand) : strand_(std::move(strand)) {}
  const boost::asio::any_io_executor& strand() const { return strand_; }
  bool closed() const { return closed_; }
  void attach(boost::asio::ip::tcp::socket& socket) { sockets_.push_back(&socket); }
  void detach(boost::asio::ip::tcp::socket& socket) { std::erase(sockets_, &socket); }
  void close_now();  // cancels pending I/O on every attached socket and closes them

 private:
  boost::asio::any_io_executor strand_;
  std::vector<boost::asio::ip::tcp::socket*> sockets_;
  bool closed_ = false;
};

// Keeps a socket attached to a ConnectionControl for as long as it lives in scope.
class AttachedSocket {
 public:
  AttachedSocket(ConnectionControl& control, boost::asio::ip::tcp::socket& socket)
      : control_(control), socket_(socket) { control_.attach(socket_); }
  ~AttachedSocket() { control_.detach(socket_); }
  AttachedSocket(const AttachedSocket&) = delete;
  AttachedSocket& operator=(const AttachedSocket&) = delete;

 private:
  ConnectionControl& control_;
  boost::asio::ip::tcp::socket& socket_;
};

struct ProxyContext {
  ProxyContext(ProxyOptions options, PolicySource policy, prometheus::Registry& registry,
               std::function<void(const EgressEvent&)> on_event);

  const ProxyOptions options;
  const PolicySource policy;
  ProxyMetrics metrics;
  const std::function<void(const EgressEvent&)> on_event;
  const std::vector<boost::asio::ip::udp::endpoint> resolvers;  // parsed options.resolvers

  // Metrics + canonical log line + on_event, for one finished decision.
  void emit(const EgressEvent& event) const;

  // Admission: nullopt when admitted (then release() must follow), else the refusal reason.
  std::optional<std::string> admit(const std::string& client_address,
                                   const std::shared_ptr<ConnectionControl>& control,
                                   std::uint64_t& id);
  void release(const std::string& client_address, std::uint64_t id);
  void close_all();
  std::size_t active() const { return active_.load(); }

 private:
  std::atomic<std::size_t> active_{0};
  mutable std::mutex mutex_;
  std::uint64_t next_id_ = 1;
  std::size_t peak_since_trim_ = 0;  // most connections open at once since the heap was trimmed
  std::unordered_map<std::string, std::size_t> per_client_;
  std::unordered_map<std::uint64_t, std::weak_ptr<ConnectionControl>> connections_;
};

bool port_listed(const std::vector<std::uint16_t>& ports, std::uint16_t port);

}  // namespace sallyport::router

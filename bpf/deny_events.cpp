#include "bpf/deny_events.hpp"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "bpf/guard_types.hpp"
#include "bpf/pinned.hpp"

namespace sallyport::bpf {

DenyEvent decode_guard_event(const guard_event& raw) {
  DenyEvent event;
  event.cgroup_id = raw.cgroup_id;
  event.ts_ns = raw.ts_ns;
  event.uid = raw.uid;
  event.pid = raw.pid;
  event.comm.assign(raw.comm, strnlen(raw.comm, GUARD_COMM_LEN));
  event.family = raw.family;
  event.dst_addr = format_guard_addr(raw.addr, raw.family);
  event.dst_port = raw.port;
  event.proto = guard_protocol_name(raw.proto);
  event.reason = guard_reason_name(raw.reason);
  event.hook = guard_hook_name(raw.hook);
  event.enforced = raw.enforced != 0;
  event.attribution.cgroup_id = raw.cgroup_id;
  return event;
}

std::string deny_event_json(const DenyEvent& e) {
  const auto& a = e.attribution;
  nlohmann::json j = {{"cgroup_id", e.cgroup_id},
                      {"ts_ns", e.ts_ns},
                      {"uid", e.uid},
                      {"pid", e.pid},
                      {"family", e.family},
                      {"dst_addr", e.dst_addr},
                      {"dst_port", e.dst_port},
                      {"proto", e.proto},
                      {"reason", e.reason},
                      {"hook", e.hook},
                      {"enforced", e.enforced},
                      {"cgroup_path", a.cgroup_path},
                      {"tenant", a.identity.tenant},
                      {"namespace", a.identity.namespace_name},
                      {"pod", a.identity.pod}};
  // comm is agent-controlled bytes: replace invalid UTF-8 rather than throw.
  j["comm"] = e.comm;
  if (a.kube) j["pod_uid"] = a.kube->pod_uid;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

struct DenyEventReader::State {
  UniqueFd map_fd;
  ring_buffer* ring = nullptr;
  CgroupAttributor attributor;
  Callback callback;

  State(UniqueFd fd, AttributionConfig config, Callback cb)
      : map_fd(std::move(fd)), attributor(std::move(config)), callback(std::move(cb)) {}
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() { ring_buffer__free(ring); }  // accepts nullptr

  static int on_sample(void* ctx, void* data, std::size_t size) {
    auto* self = static_cast<State*>(ctx);
    if (size < sizeof(guard_event)) return 0;  // foreign or truncated record: skip, keep reading
    guard_event raw;
    std::memcpy(&raw, data, sizeof raw);
    DenyEvent event = decode_guard_event(raw);
    event.attribution = self->attributor.attribute(raw.cgroup_id);
    self->callback(event);
    return 0;
  }
};

DenyEventReader::DenyEventReader(std::unique_ptr<State> state) : state_(std::move(state)) {}
DenyEventReader::DenyEventReader(DenyEventReader&&) noexcept = default;
DenyEventReader& DenyEventReader::operator=(DenyEventReader&&) noexcept = default;
DenyEventReader::~DenyEventReader() = default;

Result<DenyEventReader> DenyEventReader::open(const std::string& pin_dir,
                                              AttributionConfig attribution, Callback callback) {
  if (!callback) return Error{"DenyEventReader needs a callback", EINVAL};
  auto fd = open_pinned(pin_dir + "/" + GUARD_PIN_EVENTS);
  if (!fd) return fd.error();
  auto state =
      std::make_unique<State>(std::move(fd).value(), std::move(attribution), std::move(callback));
  state->ring = ring_buffer__new(state->map_fd.get(), &State::on_sample, state.get(), nullptr);
  if (!state->ring)
    return errno_error("open ring buffer " + pin_dir + "/" + GUARD_PIN_EVENTS, errno);
  return DenyEventReader(std::move(state));
}

Result<int> DenyEventReader::poll(std::chrono::milliseconds timeout) {
  const int n = ring_buffer__poll(state_->ring, static_cast<int>(timeout.count()));
  if (n < 0 && n != -EINTR) return errno_error("poll kernel guard events", -n);
  return n < 0 ? 0 : n;
}

Status DenyEventReader::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    if (auto n = poll(std::chrono::milliseconds(200)); !n) return n.error();
  }
  return ok_status();
}

int DenyEventReader::epoll_fd() const {
  return ring_buffer__epoll_fd(state_->ring);
}

}  // namespace sallyport::bpf

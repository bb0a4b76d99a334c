// The BPF programs and user space share guard_shared.h; these pin the layout both sides assume
// (the BPF object is compiled by clang for a different target, so a silent padding change would
// corrupt every event and config write).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>

#include "bpf/deny_events.hpp"
#include "bpf/guard_shared.h"

namespace {

TEST(SharedLayout, EventRecordIsPackedAt64Bytes) {
  EXPECT_EQ(sizeof(guard_event), 64u);
  EXPECT_EQ(offsetof(guard_event, cgroup_id), 0u);
  EXPECT_EQ(offsetof(guard_event, ts_ns), 8u);
  EXPECT_EQ(offsetof(guard_event, uid), 16u);
  EXPECT_EQ(offsetof(guard_event, pid), 20u);
  EXPECT_EQ(offsetof(guard_event, addr), 24u);
  EXPECT_EQ(offsetof(guard_event, port), 40u);
  EXPECT_EQ(offsetof(guard_event, family), 42u);
  EXPECT_EQ(offsetof(guard_event, proto), 44u);
  EXPECT_EQ(offsetof(guard_event, reason), 45u);
  EXPECT_EQ(offsetof(guard_event, hook), 46u);
  EXPECT_EQ(offsetof(guard_event, enforced), 47u);
  EXPECT_EQ(offsetof(guard_event, comm), 48u);
}

TEST(SharedLayout, MapValuesHaveNoHiddenPadding) {
  EXPECT_EQ(sizeof(guard_config), 16u);
  EXPECT_EQ(offsetof(guard_config, admin_port), 8u);
  EXPECT_EQ(offsetof(guard_config, dns_port), 10u);
  EXPECT_EQ(sizeof(guard_counter), 16u);
  // LPM keys: 4-byte prefix length then the address, no padding (the kernel requires it).
  EXPECT_EQ(sizeof(guard_lpm_key), 20u);
  EXPECT_EQ(offsetof(guard_lpm_key, addr), 4u);
}

TEST(SharedLayout, CounterSlotsCoverEveryHookAndReason) {
  EXPECT_EQ(GUARD_COUNTER_INDEX(GUARD_HOOK_MAX - 1, GUARD_REASON_MAX - 1) + 1,
            GUARD_COUNTER_EVENTS_LOST);
  EXPECT_EQ(GUARD_COUNTER_SLOTS, GUARD_COUNTER_EVENTS_LOST + 1);
}

TEST(DecodeEvent, MapsRawFieldsToNamedValues) {
  guard_event raw{};
  raw.cgroup_id = 4242;
  raw.uid = 1000;
  raw.pid = 77;
  const unsigned char mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 169, 254, 169, 254};
  std::memcpy(raw.addr, mapped, 16);
  raw.port = 80;
  raw.family = 2;  // AF_INET
  raw.proto = 6;
  raw.reason = GUARD_REASON_METADATA;
  raw.hook = GUARD_HOOK_CONNECT4;
  raw.enforced = 1;
  std::memcpy(raw.comm, "curl", 4);
  const auto e = sallyport::bpf::decode_guard_event(raw);
  EXPECT_EQ(e.cgroup_id, 4242u);
  EXPECT_EQ(e.dst_addr, "169.254.169.254");
  EXPECT_EQ(e.dst_port, 80);
  EXPECT_EQ(e.proto, "tcp");
  EXPECT_EQ(e.reason, "metadata");
  EXPECT_EQ(e.hook, "connect4");
  EXPECT_TRUE(e.enforced);
  EXPECT_EQ(e.comm, "curl");

  raw.family = 10;  // AF_INET6: the same bytes print as the v4-mapped v6 form the agent used
  EXPECT_EQ(sallyport::bpf::decode_guard_event(raw).dst_addr, "::ffff:169.254.169.254");
}

TEST(DecodeEvent, UnterminatedCommAndUnknownEnumsAreSafe) {
  guard_event raw{};
  std::memset(raw.comm, 'A', sizeof raw.comm);  // the kernel NUL-terminates, but never trust it
  raw.reason = 200;
  raw.hook = 99;
  const auto e = sallyport::bpf::decode_guard_event(raw);
  EXPECT_EQ(e.comm, std::string(16, 'A'));
  EXPECT_EQ(e.reason, "unknown");
  EXPECT_EQ(e.hook, "unknown");
  // Invalid UTF-8 in comm must not throw when serialised.
  raw.comm[0] = '\xff';
  auto bad = sallyport::bpf::decode_guard_event(raw);
  EXPECT_NO_THROW((void)sallyport::bpf::deny_event_json(bad));
}

}  // namespace

// SPDX-License-Identifier: GPL-2.0
/* sallyport kernel guard: cgroup programs that keep agent UIDs on loopback + DNS and keep every
 * UID but the router's away from cloud metadata. Policy order (written once, here):
 *
 *   1. mode off                         -> allow (nothing counted)
 *   2. loopback destination             -> allow, except agent UID to the admin port
 *   3. cgroup (or an ancestor) quarantined -> deny "quarantine" for every UID
 *   4. metadata prefix, UID not router  -> deny "metadata"
 *   5. agent UID, port 53, resolver     -> allow
 *   6. agent UID, port 53               -> deny "dns-not-resolver"
 *   7. agent UID                        -> deny "egress"
 *   8. anything else                    -> allow
 *
 * sock_create refuses raw, ICMP-datagram and packet sockets to agent UIDs. The skb egress program
 * re-applies 2-8 per packet as a backstop for paths the sock_addr hooks do not see.
 * In observe mode denials are counted and reported but allowed.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "guard_shared.h"

/* Plain constants instead of libc/uapi socket headers, which do not build for -target bpf. */
#define AF_INET 2
#define AF_INET6 10
#define AF_PACKET 17
#define SOCK_DGRAM 2
#define SOCK_RAW 3
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_ICMPV6 58
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

char LICENSE[] SEC("license") = "GPL";

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct guard_config);
} config SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, GUARD_MAX_UIDS);
  __type(key, __u32);
  __type(value, __u8);
} agent_uids SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, GUARD_MAX_UIDS);
  __type(key, __u32);
  __type(value, __u8);
} router_uids SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, GUARD_MAX_PREFIXES);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct guard_lpm_key);
  __type(value, __u8);
} resolvers SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, GUARD_MAX_PREFIXES);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct guard_lpm_key);
  __type(value, __u8);
} metadata SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, GUARD_MAX_QUARANTINED);
  __type(key, __u64);
  __type(value, __u8);
} quarantine SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, GUARD_COUNTER_SLOTS);
  __type(key, __u32);
  __type(value, struct guard_counter);
} counters SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, GUARD_EVENTS_BYTES);
} events SEC(".maps");

/* What a program knows about one attempted egress. */
struct flow {
  __u8 addr[GUARD_ADDR_LEN]; /* v4-mapped for IPv4 */
  __u16 port;
  __u16 family;
  __u8 proto;
  __u8 hook;
  __u32 uid;
};

static __always_inline void set_v4(struct flow *f, __u32 ip4_be) {
  __builtin_memset(f->addr, 0, 10);
  f->addr[10] = 0xff;
  f->addr[11] = 0xff;
  __builtin_memcpy(&f->addr[12], &ip4_be, 4);
}

static __always_inline int is_loopback(const __u8 *a) {
  __u64 hi, lo;
  __builtin_memcpy(&hi, a, 8);
  __builtin_memcpy(&lo, &a[8], 8);
  if (hi != 0) return 0;
  if (lo == bpf_cpu_to_be64(1)) return 1;                                     /* ::1 */
  return a[8] == 0 && a[9] == 0 && a[10] == 0xff && a[11] == 0xff && a[12] == 127; /* 127/8 */
}

static __always_inline int lpm_contains(void *trie, const __u8 *addr) {
  struct guard_lpm_key key = {.prefixlen = 128};
  __builtin_memcpy(key.addr, addr, GUARD_ADDR_LEN);
  return bpf_map_lookup_elem(trie, &key) != 0;
}

static __always_inline int uid_in(void *set, __u32 uid) {
  return bpf_map_lookup_elem(set, &uid) != 0;
}

/* Walks the socket's cgroup and its ancestors; skb programs have no current task to ask. */
static __always_inline int quarantined(const struct guard_config *cfg, struct __sk_buff *skb) {
  if (cfg->quarantine_active == 0) return 0;
  for (int level = GUARD_QUARANTINE_DEPTH - 1; level >= 0; level--) {
    __u64 id = skb ? bpf_skb_ancestor_cgroup_id(skb, level) : bpf_get_current_ancestor_cgroup_id(level);
    if (id != 0 && bpf_map_lookup_elem(&quarantine, &id)) return 1;
  }
  return 0;
}

static __always_inline int decide(const struct guard_config *cfg, const struct flow *f,
                                  struct __sk_buff *skb) {
  /* Loopback first and without map lookups: it is the hot path (agent -> proxy on 127.0.0.1). */
  if (is_loopback(f->addr)) {
    if (cfg->admin_port != 0 && f->port == cfg->admin_port && uid_in(&agent_uids, f->uid))
      return GUARD_REASON_ADMIN_PORT;
    return GUARD_REASON_NONE;
  }
  if (quarantined(cfg, skb)) return GUARD_REASON_QUARANTINE;
  if (lpm_contains(&metadata, f->addr) && !uid_in(&router_uids, f->uid)) return GUARD_REASON_METADATA;
  if (!uid_in(&agent_uids, f->uid)) return GUARD_REASON_NONE;
  if (f->port == cfg->dns_port && (f->proto == IPPROTO_UDP || f->proto == IPPROTO_TCP)) {
    return lpm_contains(&resolvers, f->addr) ? GUARD_REASON_NONE : GUARD_REASON_DNS_NOT_RESOLVER;
  }
  return GUARD_REASON_EGRESS;
}

static __always_inline void count(__u32 hook, __u32 reason, int enforced) {
  __u32 slot = GUARD_COUNTER_INDEX(hook, reason);
  struct guard_counter *c = bpf_map_lookup_elem(&counters, &slot);
  if (!c) return;
  if (enforced)
    c->denied++;
  else
    c->observed++;
}

static __always_inline void report(const struct flow *f, __u32 reason, int enforced,
                                   struct __sk_buff *skb) {
  struct guard_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    __u32 slot = GUARD_COUNTER_EVENTS_LOST;
    struct guard_counter *c = bpf_map_lookup_elem(&counters, &slot);
    if (c) c->denied++;
    return;
  }
  e->cgroup_id = skb ? bpf_skb_cgroup_id(skb) : bpf_get_current_cgroup_id();
  e->ts_ns = bpf_ktime_get_ns();
  e->uid = f->uid;
  e->pid = skb ? 0 : (__u32)(bpf_get_current_pid_tgid() >> 32);
  __builtin_memcpy(e->addr, f->addr, GUARD_ADDR_LEN);
  e->port = f->port;
  e->family = f->family;
  e->proto = f->proto;
  e->reason = (__u8)reason;
  e->hook = f->hook;
  e->enforced = (__u8)enforced;
  __builtin_memset(e->comm, 0, GUARD_COMM_LEN);
  if (!skb) bpf_get_current_comm(e->comm, GUARD_COMM_LEN);
  bpf_ringbuf_submit(e, 0);
}

/* Returns 1 to allow, 0 to refuse; counts and reports would-deny decisions. */
static __always_inline int verdict(const struct guard_config *cfg, const struct flow *f,
                                   __u32 reason, struct __sk_buff *skb) {
  if (reason == GUARD_REASON_NONE) return 1;
  int enforced = cfg->mode == GUARD_MODE_ENFORCE;
  count(f->hook, reason, enforced);
  /* Per-packet observe events would flood the ring; the sock_addr hooks already reported. */
  if (!skb || enforced) report(f, reason, enforced, skb);
  return enforced ? 0 : 1;
}

static __always_inline const struct guard_config *active_config(void) {
  __u32 zero = 0;
  const struct guard_config *cfg = bpf_map_lookup_elem(&config, &zero);
  if (!cfg || cfg->mode == GUARD_MODE_OFF) return 0;
  return cfg;
}

static __always_inline int check_sock_addr(struct bpf_sock_addr *ctx, __u8 hook, int v6) {
  const struct guard_config *cfg = active_config();
  if (!cfg) return 1;
  /* Fast path for IPv4 loopback (agent -> local proxy) that is not the admin port. */
  if (!v6 && (bpf_ntohl(ctx->user_ip4) >> 24) == 127 &&
      (cfg->admin_port == 0 || bpf_ntohs((__u16)ctx->user_port) != cfg->admin_port))
    return 1;
  struct flow f = {};
  if (v6) {
    __u32 w[4] = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]};
    __builtin_memcpy(f.addr, w, GUARD_ADDR_LEN);
  } else {
    set_v4(&f, ctx->user_ip4);
  }
  f.port = bpf_ntohs((__u16)ctx->user_port);
  f.family = v6 ? AF_INET6 : AF_INET;
  f.proto = (__u8)ctx->protocol;
  f.hook = hook;
  f.uid = (__u32)bpf_get_current_uid_gid();
  return verdict(cfg, &f, decide(cfg, &f, 0), 0);
}

SEC("cgroup/connect4")
int guard_connect4(struct bpf_sock_addr *ctx) { return check_sock_addr(ctx, GUARD_HOOK_CONNECT4, 0); }

SEC("cgroup/connect6")
int guard_connect6(struct bpf_sock_addr *ctx) { return check_sock_addr(ctx, GUARD_HOOK_CONNECT6, 1); }

SEC("cgroup/sendmsg4")
int guard_sendmsg4(struct bpf_sock_addr *ctx) { return check_sock_addr(ctx, GUARD_HOOK_SENDMSG4, 0); }

SEC("cgroup/sendmsg6")
int guard_sendmsg6(struct bpf_sock_addr *ctx) { return check_sock_addr(ctx, GUARD_HOOK_SENDMSG6, 1); }

SEC("cgroup/sock_create")
int guard_sock_create(struct bpf_sock *sk) {
  const struct guard_config *cfg = active_config();
  if (!cfg) return 1;
  /* Classify first: ordinary TCP/UDP sockets (the hot path) need no UID lookup. */
  __u32 reason = GUARD_REASON_NONE;
  const __u32 family = sk->family, type = sk->type, proto = sk->protocol;
  if (family == AF_PACKET)
    reason = GUARD_REASON_PACKET_SOCKET; /* reached only on kernels that hook AF_PACKET here */
  else if (type == SOCK_RAW)
    reason = GUARD_REASON_RAW_SOCKET;
  else if (type == SOCK_DGRAM && (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6))
    reason = GUARD_REASON_RAW_SOCKET; /* "ping" sockets carry payloads just as well */
  if (reason == GUARD_REASON_NONE) return 1;
  struct flow f = {};
  f.family = (__u16)family;
  f.proto = (__u8)proto;
  f.hook = GUARD_HOOK_SOCK_CREATE;
  f.uid = (__u32)bpf_get_current_uid_gid();
  if (!uid_in(&agent_uids, f.uid)) return 1;
  return verdict(cfg, &f, reason, 0);
}

/* Copies the first `n` header bytes: straight from the linear area when it is long enough (always
 * for locally built packets), else through bpf_skb_load_bytes, so a non-linear skb is never
 * waved through unparsed. Returns 0 on success. */
static __always_inline int load_header(struct __sk_buff *skb, __u32 offset, void *dst, __u32 n) {
  const __u8 *data = (const __u8 *)(long)skb->data;
  const __u8 *end = (const __u8 *)(long)skb->data_end;
  if (n == 2 && data + offset + 2 <= end) {
    __builtin_memcpy(dst, data + offset, 2);
    return 0;
  }
  if (n == 4 && data + offset + 4 <= end) {
    __builtin_memcpy(dst, data + offset, 4);
    return 0;
  }
  if (n == 16 && data + offset + 16 <= end) {
    __builtin_memcpy(dst, data + offset, 16);
    return 0;
  }
  return bpf_skb_load_bytes(skb, offset, dst, n);
}

SEC("cgroup_skb/egress")
int guard_skb_egress(struct __sk_buff *skb) {
  const struct guard_config *cfg = active_config();
  if (!cfg) return 1;
  struct flow f = {};
  __u32 l4_offset;
  if (skb->protocol == bpf_htons(ETH_P_IP)) {
    __u32 daddr;
    __u16 vihl_tos; /* byte 0: version + IHL */
    __u16 ttl_proto; /* byte 9: protocol */
    if (load_header(skb, 16, &daddr, 4)) return 1;
    if ((bpf_ntohl(daddr) >> 24) == 127) return 1; /* loopback: the common local case */
    if (load_header(skb, 0, &vihl_tos, 2) || load_header(skb, 8, &ttl_proto, 2)) return 1;
    f.proto = ((const __u8 *)&ttl_proto)[1];
    set_v4(&f, daddr);
    f.family = AF_INET;
    l4_offset = (((const __u8 *)&vihl_tos)[0] & 0x0f) * 4;
  } else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
    __u16 len_next; /* bytes 4-5 payload length, byte 6 next header -> load 6..7 */
    if (load_header(skb, 24, f.addr, 16) || load_header(skb, 6, &len_next, 2)) return 1;
    if (is_loopback(f.addr)) return 1;
    f.proto = ((const __u8 *)&len_next)[0];
    f.family = AF_INET6;
    l4_offset = 40; /* extension headers leave port 0: never port 53, so agents stay denied */
  } else {
    return 1;
  }
  if (f.proto == IPPROTO_TCP || f.proto == IPPROTO_UDP) {
    __u16 port_be;
    if (load_header(skb, l4_offset + 2, &port_be, 2) == 0) f.port = bpf_ntohs(port_be);
  }
  f.hook = GUARD_HOOK_SKB_EGRESS;
  f.uid = bpf_get_socket_uid(skb);
  return verdict(cfg, &f, decide(cfg, &f, skb), skb);
}

/* The one header shared by the kernel guard's BPF programs (guard.bpf.c) and user space
 * (loader, status, event reader). Map keys, values and the event record live here so both sides
 * agree on layout; bpf/test/shared_layout_test.cpp pins sizes and offsets.
 *
 * Conventions:
 *  - Addresses are 16 bytes in network order. IPv4 is stored in its v4-mapped form
 *    (::ffff:a.b.c.d), so one LPM trie covers v4, v6 and v4-mapped v6 destinations alike; an IPv4
 *    /N prefix is stored with prefixlen 96 + N.
 *  - Ports are in host order.
 *  - Plain C with <linux/types.h> only, so it compiles as BPF C, C and C++.
 */
#ifndef SALLYPORT_BPF_GUARD_SHARED_H
#define SALLYPORT_BPF_GUARD_SHARED_H

#include <linux/types.h>

#define GUARD_COMM_LEN 16
#define GUARD_ADDR_LEN 16
#define GUARD_MAX_UIDS 64
#define GUARD_MAX_PREFIXES 256
#define GUARD_MAX_QUARANTINED 1024
#define GUARD_EVENTS_BYTES (256 * 1024)
/* How many cgroup levels above a socket's own cgroup the quarantine lookup walks; a Kubernetes
 * pod cgroup sits one level above its container cgroups, so this leaves ample room. */
#define GUARD_QUARANTINE_DEPTH 16

enum guard_mode {
  GUARD_MODE_OFF = 0,     /* programs attached, everything allowed, nothing counted */
  GUARD_MODE_OBSERVE = 1, /* would-deny decisions are counted and reported, then allowed */
  GUARD_MODE_ENFORCE = 2, /* would-deny decisions are refused (EPERM) or dropped (skb) */
};

/* Closed set; user space maps each to a metric label (guard_reason_name in guard_types.hpp). */
enum guard_reason {
  GUARD_REASON_NONE = 0,
  GUARD_REASON_METADATA = 1,         /* metadata service, from a UID that is not a router UID */
  GUARD_REASON_EGRESS = 2,           /* agent UID to a non-loopback, non-DNS destination */
  GUARD_REASON_DNS_NOT_RESOLVER = 3, /* agent UID to port 53 on a host that is not a resolver */
  GUARD_REASON_RAW_SOCKET = 4,       /* agent UID creating SOCK_RAW / ICMP datagram sockets */
  GUARD_REASON_PACKET_SOCKET = 5,    /* agent UID creating AF_PACKET sockets */
  GUARD_REASON_QUARANTINE = 6,       /* any UID in a quarantined cgroup, non-loopback */
  GUARD_REASON_ADMIN_PORT = 7,       /* agent UID to the router's loopback admin port */
  GUARD_REASON_MAX = 8,
};

/* Which program made the decision. */
enum guard_hook {
  GUARD_HOOK_CONNECT4 = 0,
  GUARD_HOOK_CONNECT6 = 1,
  GUARD_HOOK_SENDMSG4 = 2,
  GUARD_HOOK_SENDMSG6 = 3,
  GUARD_HOOK_SOCK_CREATE = 4,
  GUARD_HOOK_SKB_EGRESS = 5,
  GUARD_HOOK_MAX = 6,
};

/* Counter slot for ring-buffer reservations that failed (consumer too slow). */
#define GUARD_COUNTER_EVENTS_LOST ((unsigned)GUARD_HOOK_MAX * (unsigned)GUARD_REASON_MAX)
#define GUARD_COUNTER_SLOTS (GUARD_COUNTER_EVENTS_LOST + 1)

/* Index of the per-CPU counter for (hook, reason). */
#define GUARD_COUNTER_INDEX(hook, reason) ((unsigned)(hook) * (unsigned)GUARD_REASON_MAX + (unsigned)(reason))

/* Value of the single-entry `config` array map (key 0). */
struct guard_config {
  __u32 mode;              /* enum guard_mode */
  __u32 quarantine_active; /* number of entries in `quarantine`; 0 skips the cgroup walk */
  __u16 admin_port;        /* router admin port on loopback refused to agent UIDs; 0 = none */
  __u16 dns_port;          /* 53; a field so tests and odd resolvers can move it */
  __u32 reserved;
};

/* Per-CPU counter value; user space sums over CPUs. */
struct guard_counter {
  __u64 denied;   /* refused in enforce mode */
  __u64 observed; /* would have been refused, allowed because mode is observe */
};

/* Key of the `resolvers` and `metadata` LPM tries (BPF_F_NO_PREALLOC). */
struct guard_lpm_key {
  __u32 prefixlen;
  __u8 addr[GUARD_ADDR_LEN];
};

/* One ring-buffer record per would-deny decision (skb drops only in enforce mode). */
struct guard_event {
  __u64 cgroup_id; /* cgroup v2 id (== inode of the cgroup directory) of the socket's task */
  __u64 ts_ns;     /* bpf_ktime_get_ns() */
  __u32 uid;
  __u32 pid;                  /* tgid; 0 when the skb program runs outside task context */
  __u8 addr[GUARD_ADDR_LEN];  /* destination, network order, v4 as v4-mapped; zero for sockets */
  __u16 port;                 /* destination port, host order; 0 when unknown */
  __u16 family;               /* AF_INET / AF_INET6 / AF_PACKET */
  __u8 proto;                 /* IPPROTO_* (0 when unknown) */
  __u8 reason;                /* enum guard_reason */
  __u8 hook;                  /* enum guard_hook */
  __u8 enforced;              /* 1 refused, 0 observe-only */
  char comm[GUARD_COMM_LEN];
};

/* Names of the programs and maps as they appear in the object and under the pin directory. */
#define GUARD_PIN_CONFIG "config"
#define GUARD_PIN_AGENT_UIDS "agent_uids"
#define GUARD_PIN_ROUTER_UIDS "router_uids"
#define GUARD_PIN_RESOLVERS "resolvers"
#define GUARD_PIN_METADATA "metadata"
#define GUARD_PIN_QUARANTINE "quarantine"
#define GUARD_PIN_COUNTERS "counters"
#define GUARD_PIN_EVENTS "events"

#endif /* SALLYPORT_BPF_GUARD_SHARED_H */

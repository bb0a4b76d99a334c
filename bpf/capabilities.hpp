#pragma once
// Effective-capability checks, so the loader can say "needs CAP_BPF" before the kernel says
// EPERM, and probe can tell a kernel-guard refusal from a missing CAP_NET_RAW.
namespace sallyport::bpf {

inline constexpr int kCapNetAdmin = 12;
inline constexpr int kCapNetRaw = 13;
inline constexpr int kCapSysAdmin = 21;
inline constexpr int kCapBpf = 39;

// True when `cap` is in this thread's effective set (false if capget fails).
bool has_effective_capability(int cap);

}  // namespace sallyport::bpf

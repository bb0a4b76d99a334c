#pragma once
// The egress policy the forward proxy (and the gateway's upstream checks) asks for every
// destination. Evaluation order (shared/DESIGN.md "Egress rules"), written down once:
//   check_host:    normalise (lower-case, one trailing dot, IDNA → A-label, reject control chars,
//                  253/63 length limits) → config allowlist (suffix-aware; wins over everything
//                  except metadata) → config denylist → feed blocklists (exact + every parent
//                  suffix) → high-risk TLD → IP-literal policy (every inet_aton/URL spelling and
//                  IPv6 form is canonicalised; metadata always denied; bare IPs denied unless
//                  inside allow_cidrs)
//   check_address: every address the name resolved to, against the deny CIDRs (metadata,
//                  loopback, private, link-local, CGNAT, multicast, unspecified, broadcast,
//                  reserved, v4-mapped / v4-compatible / NAT64 / 6to4 / Teredo embeddings) unless
//                  in allow_cidrs (metadata can never be allowed).
// Reasons (closed set, used as metric labels and in X-Sallyport-Deny):
//   allow:  "allowlist", "default"
//   deny:   "host:invalid", "denylist", "blocklist:<feed name>", "tld:high-risk", "ip:literal",
//           "ip:metadata", "ip:loopback", "ip:private", "ip:link-local", "ip:cgnat",
//           "ip:multicast", "ip:unspecified", "ip:broadcast", "ip:reserved", "ip:denied-cidr"
#include "common/decision.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sallyport::blocklist {

// An IPv4 or IPv6 address. IPv4 is stored as its v4-mapped IPv6 form (::ffff:a.b.c.d) with
// is_v4 set, so one 16-byte comparison covers both families.
struct IpAddress {
  std::array<std::uint8_t, 16> bytes{};
  bool is_v4 = false;

  static IpAddress v4(std::uint32_t host_order);
  static IpAddress v6(const std::array<std::uint8_t, 16>& network_order);
  // Parses any literal spelling a URL parser or inet_aton accepts (dotted, decimal, octal, hex,
  // short forms, bracketed IPv6, zone ids). nullopt when `text` is not an IP literal.
  static std::optional<IpAddress> parse_literal(std::string_view text);
  std::string to_string() const;  // canonical form: "169.254.169.254", "fd00:ec2::254"
  // The IPv4 address a v6 address carries and that routing would reach: v4-mapped ::ffff:0:0/96,
  // v4-translated ::ffff:0:0:0/96, v4-compatible ::/96 (not :: or ::1), NAT64 64:ff9b::/96,
  // 6to4 2002::/16, Teredo 2001::/32 (client address, bits inverted). An IPv4 address returns
  // itself; other v6 addresses nullopt. Deny checks use this so no wrapper hides a v4 target.
  std::optional<IpAddress> embedded_v4() const;
  std::uint32_t v4_host_order() const;  // the low 32 bits; meaningful when is_v4
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

enum class FeedFormat : std::uint8_t { auto_detect, domains, hosts, abp, wildcard };

struct FeedSource {
  std::string name;     // provenance: a match yields reason "blocklist:<name>"
  std::string url;      // fetched through FetchFn (http/https), or
  std::string file;     // read from disk, or
  std::string builtin;  // the list compiled into the binary ("default")
  FeedFormat format = FeedFormat::auto_detect;
};

struct EgressPolicyOptions {
  std::vector<std::string> allow;        // domains; suffix-aware; wins over blocklists
  std::vector<std::string> deny;         // domains; suffix-aware
  std::vector<std::string> allow_cidrs;  // e.g. "198.51.100.0/24"; never opens metadata
  std::vector<std::string> deny_cidrs;   // extra CIDRs denied on top of the built-in sets
  bool bare_ip_allowed_in_allow_cidrs = false;  // config "bare_ip": "deny" | "allow_cidrs"
  std::vector<std::string> high_risk_tlds = {"tk", "ml", "ga", "cf", "gq"};
  std::vector<FeedSource> feeds;
  std::chrono::seconds refresh{std::chrono::hours(6)};
  std::string cache_dir;  // last-good feed copies live here (empty = no cache)
};

struct HostCheck {
  Decision decision;
  std::string normalized_host;         // A-label, lower-case, no trailing dot (or canonical IP)
  std::optional<IpAddress> literal;    // set when the host was an IP literal
};

// An immutable snapshot: safe to share between threads; never modified after construction.
class EgressPolicy {
 public:
  virtual ~EgressPolicy() = default;
  virtual HostCheck check_host(std::string_view host) const = 0;
  virtual Decision check_address(const IpAddress& address) const = 0;
};

// Fetches a feed URL for the refresher (the router provides an HTTP(S) client).
struct FetchResult {
  bool ok = false;
  int status = 0;
  std::string body;
  std::string error;
};
using FetchFn = std::function<FetchResult(const FeedSource&)>;

// The current policy snapshot, asked for on every request (proxy, gateway upstreams).
using PolicySource = std::function<std::shared_ptr<const EgressPolicy>()>;

}  // namespace sallyport::blocklist

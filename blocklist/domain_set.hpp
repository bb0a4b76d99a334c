#pragma once
// An immutable set of normalised domain names answering "is this host, or any parent of it, in
// the set?" — the blocklist hot path. Layout: one arena of records [length][tag][name bytes], an
// open-addressing table of 8-byte slots (32-bit fingerprint, arena offset; 4 MB for the 209k
// OISD names), and a blocked Bloom filter (~8 bits per name, 256 KB) that rejects most suffixes
// of unlisted hosts without touching the table. A lookup hashes every dot-suffix in one backward
// pass over the host, then probes from the longest suffix; a fingerprint hit is confirmed by
// comparing bytes, so hash collisions cannot cause false matches.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sallyport::blocklist {

// Every dot-suffix of one host with its hash, computed once and shared by several DomainSets
// (allowlist, denylist, feeds, TLDs) so check_host hashes the host a single time.
class HostSuffixes {
 public:
  explicit HostSuffixes(std::string_view normalized_host) noexcept;

 private:
  friend class DomainSet;
  // One slot per byte position (the branch-free pass writes every position); at most 127 of
  // them are label starts in a 253-byte name.
  static constexpr std::size_t kMaxSuffixes = 254;
  std::string_view host_;
  std::size_t count_ = 0;  // 0 for an empty or over-long host: nothing can match
  std::uint64_t hashes_[kMaxSuffixes];  // shortest suffix first
  std::uint8_t starts_[kMaxSuffixes];
};

class DomainSet {
 public:
  struct Match {
    std::string_view rule;  // the listed name that matched (points into the set)
    std::uint16_t tag = 0;  // caller-defined, e.g. the feed index
  };

  class Builder {
   public:
    void reserve(std::size_t names, std::size_t bytes);
    // `name` must already be normalised (normalize_host_into). The first tag added for a name
    // wins; later duplicates are counted and dropped.
    void add(std::string_view name, std::uint16_t tag);
    DomainSet build() &&;

   private:
    std::string records_;  // the future arena: [length][tag lo][tag hi][name] per name
    std::vector<std::uint32_t> offsets_;
  };

  DomainSet() = default;

  // Longest listed suffix of `host` on label boundaries ("a.b.evil.com" matches "evil.com",
  // "notevil.com" does not). `host` must be normalised (<= 253 bytes). Never allocates.
  std::optional<Match> find(std::string_view host) const noexcept;
  std::optional<Match> find(const HostSuffixes& host) const noexcept;  // same, pre-hashed
  bool contains_exact(std::string_view name) const noexcept;

  std::size_t size() const noexcept { return size_; }
  std::size_t duplicates_dropped() const noexcept { return duplicates_; }
  std::size_t memory_bytes() const noexcept;

 private:
  static constexpr std::uint32_t kEmpty = 0xffffffffu;
  struct Slot {
    std::uint32_t fingerprint = 0;  // 32 hash bits not used for the slot index
    std::uint32_t offset = kEmpty;  // record offset in arena_
  };

  bool may_contain(std::uint64_t hash) const noexcept;
  const Slot* probe(std::uint64_t hash, const char* name, std::size_t length) const noexcept;
  bool insert(std::uint64_t hash, std::uint32_t offset);
  std::string_view record_name(std::uint32_t offset) const noexcept;
  std::uint16_t record_tag(std::uint32_t offset) const noexcept;

  std::string arena_;
  std::vector<Slot> slots_;
  std::vector<std::uint64_t> filter_;
  std::uint64_t slot_mask_ = 0;
  unsigned filter_shift_ = 64;
  std::size_t size_ = 0;
  std::size_t duplicates_ = 0;
};

}  // namespace sallyport::blocklist

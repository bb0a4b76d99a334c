#include "blocklist/domain_set.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

namespace sallyport::blocklist {
namespace {

// Suffix hash: H(s) = sum of byte[i] * K^(distance of i from the end). Every suffix's hash falls
// out of one backward pass, and the multiplies are independent of each other (unlike FNV's
// chain), so the CPU overlaps them; only an add is loop-carried.
constexpr std::uint64_t kMultiplier = 0x9e3779b97f4a7c15ull;

constexpr std::array<std::uint64_t, 256> make_powers() {
  std::array<std::uint64_t, 256> powers{};
  std::uint64_t power = 1;
  for (auto& entry : powers) {
    entry = power;
    power *= kMultiplier;
  }
  return powers;
}
constexpr std::array<std::uint64_t, 256> kPowers = make_powers();

// Finaliser (MurmurHash3 fmix64): FNV's low bits are weak; the table and filter use them.
inline std::uint64_t mix(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

// The three bits a name sets in its filter word (the word is chosen by the high hash bits).
inline std::uint64_t filter_bits(std::uint64_t hash) {
  return (std::uint64_t{1} << (hash & 63)) | (std::uint64_t{1} << ((hash >> 6) & 63)) |
         (std::uint64_t{1} << ((hash >> 12) & 63));
}

std::uint64_t hash_name(std::string_view name) {
  std::uint64_t hash = 0;
  for (std::size_t i = 0; i < name.size(); ++i) {
    hash += static_cast<unsigned char>(name[i]) * kPowers[name.size() - 1 - i];
  }
  return mix(hash);
}

}  // namespace

inline std::uint32_t fingerprint_of(std::uint64_t hash) {
  return static_cast<std::uint32_t>(hash >> 20);
}

void DomainSet::Builder::reserve(std::size_t names, std::size_t bytes) {
  records_.reserve(bytes + 3 * names);
  offsets_.reserve(names);
}

void DomainSet::Builder::add(std::string_view name, std::uint16_t tag) {
  if (name.empty() || name.size() > 253) return;
  if (records_.size() + name.size() + 3 >= kEmpty) return;  // 4 GB of names: refuse, never wrap
  offsets_.push_back(static_cast<std::uint32_t>(records_.size()));
  records_.push_back(static_cast<char>(name.size()));
  records_.push_back(static_cast<char>(tag & 0xff));
  records_.push_back(static_cast<char>(tag >> 8));
  records_.append(name);
}

DomainSet DomainSet::Builder::build() && {
  DomainSet set;
  const std::size_t count = offsets_.size();
  // Load factor <= 0.5 keeps linear-probe chains short.
  const std::size_t slots = std::bit_ceil(std::max<std::size_t>(16, count * 2));
  set.slots_.assign(slots, Slot{});
  set.slot_mask_ = slots - 1;
  // A blocked Bloom filter: ~8 bits per name, 3 bits set inside one 64-bit word, so one memory
  // access answers "surely absent" for ~96 % of unlisted suffixes. 209k names = 256 KB (fits L2).
  const std::size_t filter_words = std::bit_ceil(std::max<std::size_t>(64, count / 8));
  set.filter_.assign(filter_words, 0);
  set.filter_shift_ = 64 - static_cast<unsigned>(std::countr_zero(filter_words));
  set.arena_ = std::move(records_);
  for (const std::uint32_t offset : offsets_) {
    const std::uint64_t hash = hash_name(set.record_name(offset));
    if (set.insert(hash, offset)) {
      set.filter_[hash >> set.filter_shift_] |= filter_bits(hash);
      ++set.size_;
    } else {
      ++set.duplicates_;  // its record stays in the arena; compacting would cost a copy
    }
  }
  return set;
}

std::string_view DomainSet::record_name(std::uint32_t offset) const noexcept {
  return std::string_view(arena_.data() + offset + 3,
                          static_cast<unsigned char>(arena_[offset]));
}

std::uint16_t DomainSet::record_tag(std::uint32_t offset) const noexcept {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(arena_[offset + 1]) |
                                    (static_cast<unsigned char>(arena_[offset + 2]) << 8));
}

bool DomainSet::insert(std::uint64_t hash, std::uint32_t offset) {
  const std::string_view name = record_name(offset);
  for (std::uint64_t index = hash & slot_mask_;; index = (index + 1) & slot_mask_) {
    Slot& slot = slots_[index];
    if (slot.offset == kEmpty) {
      slot = Slot{fingerprint_of(hash), offset};
      return true;
    }
    if (slot.fingerprint == fingerprint_of(hash) && record_name(slot.offset) == name) return false;
  }
}

bool DomainSet::may_contain(std::uint64_t hash) const noexcept {
  const std::uint64_t bits = filter_bits(hash);
  return (filter_[hash >> filter_shift_] & bits) == bits;
}

const DomainSet::Slot* DomainSet::probe(std::uint64_t hash, const char* name,
                                        std::size_t length) const noexcept {
  const std::uint32_t fingerprint = fingerprint_of(hash);
  for (std::uint64_t index = hash & slot_mask_;; index = (index + 1) & slot_mask_) {
    const Slot& slot = slots_[index];
    if (slot.offset == kEmpty) return nullptr;
    if (slot.fingerprint == fingerprint) {
      const char* record = arena_.data() + slot.offset;
      if (static_cast<unsigned char>(record[0]) == length &&
          std::memcmp(record + 3, name, length) == 0) {
        return &slot;
      }
    }
  }
}

HostSuffixes::HostSuffixes(std::string_view host) noexcept : host_(host) {
  if (host.empty() || host.size() > 253) return;
  // Branch-free: label starts sit at unpredictable positions, so every position writes its
  // partial hash and only a label start advances the count (a mispredict costs ~15 cycles).
  std::uint64_t hash = 0;
  std::size_t count = 0;
  const std::size_t n = host.size();
  for (std::size_t i = n; i-- > 0;) {
    hash += static_cast<unsigned char>(host[i]) * kPowers[n - 1 - i];
    hashes_[count] = hash;
    starts_[count] = static_cast<std::uint8_t>(i);
    count += (i == 0 || host[i - 1] == '.') ? 1 : 0;
  }
  for (std::size_t k = 0; k < count; ++k) hashes_[k] = mix(hashes_[k]);
  count_ = count;
}

std::optional<DomainSet::Match> DomainSet::find(std::string_view host) const noexcept {
  if (size_ == 0) return std::nullopt;
  return find(HostSuffixes(host));
}

std::optional<DomainSet::Match> DomainSet::find(const HostSuffixes& suffixes_of_host) const noexcept {
  if (size_ == 0) return std::nullopt;
  const std::string_view host = suffixes_of_host.host_;
  const std::uint64_t* hashes = suffixes_of_host.hashes_;
  const std::uint8_t* starts = suffixes_of_host.starts_;
  const std::size_t suffixes = suffixes_of_host.count_;
  // The lookup is bound by memory latency, not instructions: start every filter load at once
  // so the misses overlap instead of queueing one after another.
  for (std::size_t k = 0; k < suffixes; ++k) __builtin_prefetch(&filter_[hashes[k] >> filter_shift_]);
  std::size_t candidates[HostSuffixes::kMaxSuffixes];
  std::size_t candidate_count = 0;
  for (std::size_t k = suffixes; k-- > 0;) {  // longest first: the most specific rule is named
    if (may_contain(hashes[k])) {
      __builtin_prefetch(&slots_[hashes[k] & slot_mask_]);
      candidates[candidate_count++] = k;
    }
  }
  for (std::size_t c = 0; c < candidate_count; ++c) {
    const std::size_t k = candidates[c];
    const char* name = host.data() + starts[k];
    const std::size_t length = host.size() - starts[k];
    if (const Slot* slot = probe(hashes[k], name, length)) {
      return Match{record_name(slot->offset), record_tag(slot->offset)};
    }
  }
  return std::nullopt;
}

bool DomainSet::contains_exact(std::string_view name) const noexcept {
  if (size_ == 0 || name.empty() || name.size() > 253) return false;
  const std::uint64_t hash = hash_name(name);
  return may_contain(hash) && probe(hash, name.data(), name.size()) != nullptr;
}

std::size_t DomainSet::memory_bytes() const noexcept {
  return arena_.capacity() + slots_.capacity() * sizeof(Slot) +
         filter_.capacity() * sizeof(std::uint64_t);
}

}  // namespace sallyport::blocklist

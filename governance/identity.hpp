#pragma once
// Ed25519 identity of one sandbox (libsodium). It signs audit checkpoints and is exported in
// /admin/identity.
//
// Files in the state dir:
//   identity.ed25519      the 32-byte secret seed as 64 hex digits + '\n', mode 0600
//   identity.ed25519.pub  the 32-byte public key as 64 hex digits + '\n', mode 0644
// Public keys are exported as lower-case hex (64 digits) everywhere (CLI, /admin, checkpoints).
// key id = first 16 hex digits of SHA-256(public key bytes).
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sallyport::identity {

inline constexpr std::string_view kSecretKeyFile = "identity.ed25519";
inline constexpr std::string_view kPublicKeyFile = "identity.ed25519.pub";

using Signature = std::array<std::uint8_t, 64>;

class PublicKey {
 public:
  explicit PublicKey(const std::array<std::uint8_t, 32>& bytes) : bytes_(bytes) {}
  // Accepts 64 hex digits (surrounding whitespace ignored).
  static std::optional<PublicKey> from_hex(std::string_view hex);
  // `arg` is either 64 hex digits or the path of a file holding them (e.g. identity.ed25519.pub).
  static std::optional<PublicKey> from_hex_or_file(std::string_view arg, std::string& error);

  const std::array<std::uint8_t, 32>& bytes() const noexcept { return bytes_; }
  std::string hex() const;
  std::string key_id() const;  // first 16 hex of SHA-256(bytes)
  bool verify(std::span<const std::uint8_t> message, const Signature& signature) const;
  bool operator==(const PublicKey&) const = default;

 private:
  std::array<std::uint8_t, 32> bytes_;
};

// Holds the secret key in memory (zeroed on destruction). Move-only.
class Identity {
 public:
  // Fresh random keypair (not persisted).
  static Identity generate();
  static Identity from_seed(const std::array<std::uint8_t, 32>& seed);

  // Loads <state_dir>/identity.ed25519, or creates it (and the .pub) when absent: the secret is
  // written to a temp file opened O_CREAT|O_EXCL with mode 0600, fsynced, renamed into place and
  // the directory fsynced. Refuses a secret key file readable by group/other or malformed.
  // Throws std::runtime_error with a message naming the file on failure (start-up path).
  static Identity load_or_create(const std::filesystem::path& state_dir);
  // Loads only; nullopt + error when missing/invalid.
  static std::optional<Identity> load(const std::filesystem::path& state_dir, std::string& error);
  // Writes a new keypair; fails when a key exists and !overwrite. Returns the new identity.
  static std::optional<Identity> create(const std::filesystem::path& state_dir, bool overwrite,
                                        std::string& error);

  Identity(Identity&&) noexcept;
  Identity& operator=(Identity&&) noexcept;
  Identity(const Identity&) = delete;
  Identity& operator=(const Identity&) = delete;
  ~Identity();

  const PublicKey& public_key() const noexcept { return public_key_; }
  std::string key_id() const { return public_key_.key_id(); }
  Signature sign(std::span<const std::uint8_t> message) const;

 private:
  Identity(const std::array<std::uint8_t, 64>& secret, const PublicKey& pk);
  std::array<std::uint8_t, 64> secret_{};  // libsodium layout: seed ‖ public key
  PublicKey public_key_;
};

}  // namespace sallyport::identity

#include "governance/identity.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "governance/audit_record.hpp"

namespace sallyport::identity {
namespace {

void ensure_sodium() {
  static const int rc = sodium_init();
  if (rc < 0) throw std::runtime_error("libsodium initialisation failed");
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// One open, then fstat on the same fd: the mode and type checked are those of the bytes read
// (no stat-then-open race with a swapped file or symlink). `owner_only` rejects group/other
// access (secret keys). O_NONBLOCK so a FIFO cannot hang us before fstat rejects it.
bool read_small_file(const std::filesystem::path& path, std::string& out, std::string& error,
                     bool owner_only = false) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (owner_only ? O_NOFOLLOW : 0));
  if (fd < 0) {
    error = path.string() + ": cannot open: " + std::strerror(errno);
    return false;
  }
  struct stat st{};
  const bool stat_ok = ::fstat(fd, &st) == 0;
  if (!stat_ok || !S_ISREG(st.st_mode) || st.st_size > 4096) {
    ::close(fd);
    error = path.string() + (!stat_ok ? ": cannot stat" : !S_ISREG(st.st_mode) ? ": not a regular file"
                                                                          : ": too large for a key file");
    return false;
  }
  if (owner_only && (st.st_mode & 077) != 0) {
    ::close(fd);
    error = path.string() + ": secret key is accessible by group/other; expected mode 0600";
    return false;
  }
  out.assign(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t filled = 0;
  while (filled < out.size()) {
    const ssize_t got = ::read(fd, out.data() + filled, out.size() - filled);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    filled += static_cast<std::size_t>(got);
  }
  ::close(fd);
  out.resize(filled);
  return true;
}

// Temp file (O_CREAT|O_EXCL, `mode`) → write → fsync → rename → fsync(dir).
bool write_file_atomically(const std::filesystem::path& path, std::string_view content,
                           mode_t mode, std::string& error) {
  const std::string tmp = path.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    error = tmp + ": cannot create: " + std::strerror(errno);
    return false;
  }
  bool ok = ::fchmod(fd, mode) == 0;  // umask may have narrowed it; never widen beyond `mode`
  std::size_t done = 0;
  while (ok && done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok = false; else done += static_cast<std::size_t>(n);
  }
  if (ok) ok = ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (ok) ok = ::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) {
    error = path.string() + ": cannot write: " + std::strerror(saved ? saved : errno);
    ::unlink(tmp.c_str());
    return false;
  }
  const int dir = ::open(path.parent_path().empty() ? "." : path.parent_path().c_str(),
                         O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return true;
}

}  // namespace

std::optional<PublicKey> PublicKey::from_hex(std::string_view hex) {
  std::array<std::uint8_t, 32> bytes{};
  if (!audit::from_hex(trim(hex), bytes.data(), bytes.size())) return std::nullopt;
  return PublicKey(bytes);
}

std::optional<PublicKey> PublicKey::from_hex_or_file(std::string_view arg, std::string& error) {
  if (auto key = from_hex(arg)) return key;
  std::string content;
  if (!read_small_file(std::filesystem::path(std::string(arg)), content, error)) {
    error = "public key is neither 64 hex digits nor a readable file (" + error + ")";
    return std::nullopt;
  }
  if (auto key = from_hex(content)) return key;
  error = std::string(arg) + ": expected 64 hex digits (an Ed25519 public key)";
  return std::nullopt;
}

std::string PublicKey::hex() const { return audit::to_hex(bytes_); }

std::string PublicKey::key_id() const {
  const auto digest = audit::sha256(
      std::string_view(reinterpret_cast<const char*>(bytes_.data()), bytes_.size()));
  return audit::to_hex(digest).substr(0, 16);
}

bool PublicKey::verify(std::span<const std::uint8_t> message, const Signature& signature) const {
  ensure_sodium();
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                     bytes_.data()) == 0;
}

Identity::Identity(const std::array<std::uint8_t, 64>& secret, const PublicKey& pk)
    : secret_(secret), public_key_(pk) {}

Identity::Identity(Identity&& other) noexcept
    : secret_(other.secret_), public_key_(other.public_key_) {
  sodium_memzero(other.secret_.data(), other.secret_.size());
}

Identity& Identity::operator=(Identity&& other) noexcept {
  if (this != &other) {
    secret_ = other.secret_;
    public_key_ = other.public_key_;
    sodium_memzero(other.secret_.data(), other.secret_.size());
  }
  return *this;
}

Identity::~Identity() { sodium_memzero(secret_.data(), secret_.size()); }

Identity Identity::generate() {
  ensure_sodium();
  std::array<std::uint8_t, 32> seed{};
  randombytes_buf(seed.data(), seed.size());
  Identity id = from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  return id;
}

Identity Identity::from_seed(const std::array<std::uint8_t, 32>& seed) {
  ensure_sodium();
  std::array<std::uint8_t, 32> pk{};
  std::array<std::uint8_t, 64> sk{};
  crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data());
  Identity id(sk, PublicKey(pk));
  sodium_memzero(sk.data(), sk.size());
  return id;
}

Signature Identity::sign(std::span<const std::uint8_t> message) const {
  Signature sig{};
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_.data());
  return sig;
}

std::optional<Identity> Identity::load(const std::filesystem::path& state_dir, std::string& error) {
  const auto path = state_dir / kSecretKeyFile;
  std::string content;
  if (!read_small_file(path, content, error, /*owner_only=*/true)) return std::nullopt;
  std::array<std::uint8_t, 32> seed{};
  const bool ok = audit::from_hex(trim(content), seed.data(), seed.size());
  sodium_memzero(content.data(), content.size());
  if (!ok) {
    error = path.string() + ": expected 64 hex digits (an Ed25519 seed)";
    return std::nullopt;
  }
  Identity id = from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  return id;
}

std::optional<Identity> Identity::create(const std::filesystem::path& state_dir, bool overwrite,
                                         std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  const auto secret_path = state_dir / kSecretKeyFile;
  if (!overwrite && std::filesystem::exists(secret_path, ec)) {
    error = secret_path.string() + ": a key already exists (use --force to replace it)";
    return std::nullopt;
  }
  Identity id = generate();
  std::string seed_hex = audit::to_hex(id.secret_.data(), 32) + "\n";
  const bool ok = write_file_atomically(secret_path, seed_hex, 0600, error);
  sodium_memzero(seed_hex.data(), seed_hex.size());
  if (!ok) return std::nullopt;
  if (!write_file_atomically(state_dir / kPublicKeyFile, id.public_key().hex() + "\n", 0644, error))
    return std::nullopt;
  return id;
}

Identity Identity::load_or_create(const std::filesystem::path& state_dir) {
  std::string error;
  std::error_code ec;
  if (std::filesystem::exists(state_dir / kSecretKeyFile, ec)) {
    if (auto id = load(state_dir, error)) return std::move(*id);
    throw std::runtime_error(error);
  }
  if (auto id = create(state_dir, false, error)) return std::move(*id);
  throw std::runtime_error(error);
}

}  // namespace sallyport::identity

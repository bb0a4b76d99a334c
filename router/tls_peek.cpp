#include "router/tls_peek.hpp"

#include <array>

namespace sallyport::router {
namespace {

// A bounds-checked reader over the record payload; every read past the end sets `failed`.
struct Reader {
  std::span<const std::uint8_t> data;
  std::size_t pos = 0;
  bool failed = false;

  std::size_t remaining() const { return failed ? 0 : data.size() - pos; }
  std::uint32_t number(std::size_t width) {
    if (remaining() < width) { failed = true; return 0; }
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < width; ++i) value = (value << 8) | data[pos++];
    return value;
  }
  std::span<const std::uint8_t> bytes(std::size_t count) {
    if (remaining() < count) { failed = true; return {}; }
    auto out = data.subspan(pos, count);
    pos += count;
    return out;
  }
  Reader sub(std::size_t length_width) {
    auto length = number(length_width);
    return Reader{bytes(length), 0, failed};
  }
};

// Walks the server_name extension body for its host_name entry.
std::optional<std::string> server_name_from(Reader ext) {
  auto list = ext.sub(2);
  while (!list.failed && list.remaining() > 0) {
    auto type = list.number(1);
    auto name = list.sub(2);
    if (list.failed) break;
    if (type == 0 && name.data.size() > 0)
      return std::string(name.data.begin(), name.data.end());
  }
  return std::nullopt;
}

}  // namespace

ClientHelloPeek peek_client_hello(std::span<const std::uint8_t> bytes) {
  constexpr std::uint8_t handshake = 0x16, client_hello = 0x01;
  if (bytes.empty()) return {ClientHelloStatus::need_more, {}};
  if (bytes[0] != handshake) return {ClientHelloStatus::not_tls, {}};
  if (bytes.size() >= 2 && bytes[1] != 0x03) return {ClientHelloStatus::not_tls, {}};
  if (bytes.size() < 5) return {ClientHelloStatus::need_more, {}};
  std::size_t record_length = (std::size_t{bytes[3]} << 8) | bytes[4];
  if (record_length == 0 || record_length > 16384) return {ClientHelloStatus::malformed, {}};
  if (bytes.size() < 5 + record_length) return {ClientHelloStatus::need_more, {}};

  Reader record{bytes.subspan(5, record_length)};
  if (record.number(1) != client_hello) return {ClientHelloStatus::malformed, {}};
  record.number(3);       // handshake length: may exceed this record (fragmented hello)
  record.number(2);       // legacy_version
  record.bytes(32);       // random
  record.sub(1);          // legacy_session_id
  record.sub(2);          // cipher_suites
  record.sub(1);          // legacy_compression_methods
  if (record.failed) return {ClientHelloStatus::malformed, {}};
  if (record.remaining() == 0) return {ClientHelloStatus::complete, {}};  // no extensions
  auto extensions = record.sub(2);
  while (!extensions.failed && extensions.remaining() > 0) {
    auto type = extensions.number(2);
    auto body = extensions.sub(2);
    if (extensions.failed) break;
    if (type == 0) {
      auto name = server_name_from(body);
      if (!name) return {ClientHelloStatus::malformed, {}};
      return {ClientHelloStatus::complete, std::move(name)};
    }
  }
  // Extensions cut off by the end of a fragmented first record cannot prove "no SNI".
  if (extensions.failed || record.failed) return {ClientHelloStatus::malformed, {}};
  return {ClientHelloStatus::complete, {}};
}

std::span<const std::uint8_t> tls_access_denied_alert() {
  // content type alert (21), TLS 1.2 record version, length 2, fatal (2), access_denied (49)
  static constexpr std::array<std::uint8_t, 7> alert{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x31};
  return alert;
}

}  // namespace sallyport::router

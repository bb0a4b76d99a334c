#pragma once
// Reads the server name (SNI) out of a TLS ClientHello without terminating TLS: the forward
// proxy peeks the first record a CONNECT client sends and compares the SNI with the CONNECT
// host. Pure and bounded: only the first TLS record is examined (at most 5 + 16384 bytes).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace sallyport::router {

enum class ClientHelloStatus : std::uint8_t {
  need_more,  // the first record is not complete yet: read more bytes and call again
  complete,   // a ClientHello was parsed; `server_name` is set when it carried SNI
  not_tls,    // the bytes are not a TLS handshake record
  malformed,  // a handshake record, but the ClientHello inside is truncated or inconsistent
};

struct ClientHelloPeek {
  ClientHelloStatus status = ClientHelloStatus::need_more;
  std::optional<std::string> server_name;  // host_name entry of server_name (RFC 6066)
};

// Largest number of bytes the parser will ever ask for.
inline constexpr std::size_t max_client_hello_peek = 5 + 16384;

ClientHelloPeek peek_client_hello(std::span<const std::uint8_t> bytes);

// A fatal TLS alert record (access_denied), sent to a client whose ClientHello is refused.
std::span<const std::uint8_t> tls_access_denied_alert();

}  // namespace sallyport::router

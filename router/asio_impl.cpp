// The one translation unit that compiles Boost.Asio, Boost.Beast and Boost.URL
// (BOOST_*_SEPARATE_COMPILATION), so the rest of router/ only parses their headers.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>

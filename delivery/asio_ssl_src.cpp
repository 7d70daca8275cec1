// Asio's SSL implementation, compiled once (BOOST_ASIO_SEPARATE_COMPILATION is set project-wide,
// and server/asio_beast_src.cpp compiles only the non-TLS part). The HTTP client here is the only
// TLS user; if another library needs TLS, move this into bitsd_net.
#include <boost/asio/ssl/impl/src.hpp>

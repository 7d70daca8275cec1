#include "config/listen_list.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <cstdint>
#include <string_view>

namespace bitsd::config {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Only plain decimal digits: std::stoul would also accept "+80", " 80" and "0x50".
std::optional<std::uint16_t> parse_port(std::string_view text) {
    if (text.empty() || text.size() > 5 || !std::all_of(text.begin(), text.end(), is_digit)) {
        return std::nullopt;
    }
    unsigned value = 0;
    for (char c : text) value = value * 10 + static_cast<unsigned>(c - '0');
    if (value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

// Two spellings of one address ("::1" and "0:0::1") bind the same socket: compare them
// by value, not by text.
bool same_endpoint(const listen_endpoint& a, const listen_endpoint& b) {
    if (a.port != b.port) return false;
    boost::system::error_code ec_a, ec_b;
    const auto address_a = boost::asio::ip::make_address(a.host, ec_a);
    const auto address_b = boost::asio::ip::make_address(b.host, ec_b);
    if (ec_a || ec_b) return a.host == b.host;
    return address_a == address_b;
}

}  // namespace

std::optional<listen_endpoint> parse_listen(const std::string& text, std::string& why) {
    std::string_view rest = text;
    std::string host;
    if (rest.empty()) {
        why = "empty endpoint (expected \"host:port\")";
        return std::nullopt;
    }
    if (rest.front() == '[') {
        const auto close = rest.find(']');
        if (close == std::string_view::npos) {
            why = "missing ']' after the IPv6 address";
            return std::nullopt;
        }
        host = std::string(rest.substr(1, close - 1));
        rest.remove_prefix(close + 1);
        if (host.empty()) {
            why = "missing address between '[' and ']'";
            return std::nullopt;
        }
        boost::system::error_code ec;
        boost::asio::ip::make_address_v6(host, ec);
        if (ec) {
            why = "\"" + host + "\" is not an IPv6 address";
            return std::nullopt;
        }
    } else {
        const auto colon = rest.rfind(':');
        if (colon == std::string_view::npos) {
            why = "missing \":port\" (expected \"host:port\")";
            return std::nullopt;
        }
        host = std::string(rest.substr(0, colon));
        rest.remove_prefix(colon);
        if (host.empty()) {
            why = "missing host before \":port\" (use 0.0.0.0 or [::] for every address)";
            return std::nullopt;
        }
        if (host.find(':') != std::string::npos) {
            why = "an IPv6 address must be written in brackets, as in \"[::1]:8080\"";
            return std::nullopt;
        }
        boost::system::error_code ec;
        const auto address = boost::asio::ip::make_address_v4(host, ec);
        // Only the dotted quad as written: Windows' parser also takes the legacy forms
        // ("1.2.3" is 1.2.0.3 there), so a config would bind elsewhere than on Linux.
        if (ec || address.to_string() != host) {
            // Host names are refused on purpose: a name may resolve to several addresses,
            // or to different ones tomorrow; a listener binds one address.
            why = "\"" + host + "\" is not an IP address (host names are not accepted)";
            return std::nullopt;
        }
    }
    if (rest.empty() || rest.front() != ':') {
        why = "missing \":port\" after the address";
        return std::nullopt;
    }
    rest.remove_prefix(1);
    const auto port = parse_port(rest);
    if (!port) {
        why = "port \"" + std::string(rest) + "\" is not a number from 0 to 65535";
        return std::nullopt;
    }
    return listen_endpoint{std::move(host), *port, std::nullopt};
}

std::string to_string(const listen_endpoint& endpoint) {
    const bool v6 = endpoint.host.find(':') != std::string::npos;
    std::string text = v6 ? "[" + endpoint.host + "]" : endpoint.host;
    return text + ":" + std::to_string(endpoint.port);
}

std::optional<listen_list_error> parse_listen_list(const std::vector<std::string>& texts,
                                                   std::vector<listen_endpoint>& out) {
    std::vector<listen_endpoint> parsed;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        std::string why;
        auto endpoint = parse_listen(texts[i], why);
        if (!endpoint) return listen_list_error{i, why, std::nullopt};
        for (std::size_t j = 0; j < parsed.size(); ++j) {
            if (same_endpoint(parsed[j], *endpoint)) {
                return listen_list_error{i, "duplicate endpoint " + to_string(*endpoint), j};
            }
        }
        parsed.push_back(std::move(*endpoint));
    }
    out = std::move(parsed);
    return std::nullopt;
}

}  // namespace bitsd::config

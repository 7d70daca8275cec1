// Windows counterpart of content_digest.cpp: no OpenSSL there, and no delivery (refused at config
// time), so a content_digest is never made. See unavailable_windows.hpp.
#include "delivery/content_digest.hpp"

#include "delivery/unavailable_windows.hpp"

namespace bitsd::delivery {

void content_digest::context_deleter::operator()(void*) const noexcept {}

content_digest::content_digest() { unavailable_on_windows("the content digest (SHA-256)"); }
content_digest::~content_digest() = default;
content_digest::content_digest(content_digest&&) noexcept = default;
content_digest& content_digest::operator=(content_digest&&) noexcept = default;

void content_digest::update(const void*, std::size_t) { unavailable_on_windows("the content digest"); }

std::error_code content_digest::update_from_file(const std::string&, std::uint64_t, std::uint64_t) {
    unavailable_on_windows("the content digest");
}

void content_digest::reset() { unavailable_on_windows("the content digest"); }
std::string content_digest::base64() const { unavailable_on_windows("the content digest"); }
std::string content_digest::hex() const { unavailable_on_windows("the content digest"); }
void content_digest::finish(unsigned char (&)[32]) const { unavailable_on_windows("the content digest"); }

std::string base64_encode(const void*, std::size_t) { unavailable_on_windows("the delivery's base64"); }

}  // namespace bitsd::delivery

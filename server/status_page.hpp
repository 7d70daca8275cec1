#pragma once
// The status page the admin listener serves at /: one self-contained HTML page (inline CSS and
// JavaScript, no external assets) that fetches /api/sessions, /api/recent and /readyz and
// refreshes itself. Its source is server/status_page.html, embedded at build time.

#include <string_view>

namespace bitsd::server {

std::string_view status_page_html() noexcept;

}  // namespace bitsd::server

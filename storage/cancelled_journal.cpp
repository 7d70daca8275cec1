#include "storage/cancelled_journal.hpp"

#include "storage/data_dir_layout.hpp"
#include "storage/error_guard.hpp"
#include "storage/platform_file.hpp"
#include "storage/session_id.hpp"
#include "storage/storage_error.hpp"

#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <utility>
#include <vector>

namespace bitsd::storage {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Compaction pays off once the dead lines outnumber the live ones, and not for a handful.
constexpr std::uint64_t min_dead_lines_to_compact = 1024;

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

std::string record_line(const cancelled_session& s) {
    return json{{"cancelled", s.id}, {"prefix", s.url_prefix}, {"target", s.target},
                {"owner", s.owner}, {"created", s.created_unix}, {"at", s.cancelled_unix}}
        .dump(-1, ' ', false, json::error_handler_t::replace);
}

// A journal line as a record; false for anything else (a forget line, garbage).
bool parse_record(const std::string& line, cancelled_session& out) {
    const json value = json::parse(line, nullptr, false);
    if (!value.is_object()) return false;
    const auto id = value.find("cancelled");
    const auto prefix = value.find("prefix");
    const auto target = value.find("target");
    const auto owner = value.find("owner");
    const auto at = value.find("at");
    if (id == value.end() || !id->is_string() || prefix == value.end() || !prefix->is_string() ||
        target == value.end() || !target->is_string() || owner == value.end() ||
        !owner->is_string() || at == value.end() || !at->is_number_integer()) {
        return false;
    }
    const auto canonical = normalize_session_id(id->get<std::string>());
    if (!canonical) return false;
    out.id = *canonical;
    out.url_prefix = prefix->get<std::string>();
    out.target = target->get<std::string>();
    out.owner = owner->get<std::string>();
    out.cancelled_unix = at->get<std::int64_t>();
    const auto created = value.find("created");
    out.created_unix = created != value.end() && created->is_number_integer() ? created->get<std::int64_t>() : 0;
    return true;
}

bool parse_forget(const std::string& line, std::string& id) {
    const json value = json::parse(line, nullptr, false);
    if (!value.is_object()) return false;
    const auto it = value.find("forget");
    if (it == value.end() || !it->is_string()) return false;
    const auto canonical = normalize_session_id(it->get<std::string>());
    if (!canonical) return false;
    id = *canonical;
    return true;
}

}  // namespace

std::size_t cancelled_journal::key_hash::operator()(const key& k) const noexcept {
    // Session ids are random: any eight of their bytes are a good hash.
    std::size_t h = 0;
    std::memcpy(&h, k.data() + 8, sizeof h < 8 ? sizeof h : 8);
    return h;
}

bool cancelled_journal::key_of(std::string_view id, key& out) {
    const auto canonical = normalize_session_id(id);
    if (!canonical) return false;
    std::size_t n = 0;
    int high = -1;
    for (char c : *canonical) {
        const int v = hex_value(c);
        if (v < 0) continue;  // braces and dashes
        if (high < 0) {
            high = v;
        } else {
            if (n == out.size()) return false;
            out[n++] = static_cast<unsigned char>(high * 16 + v);
            high = -1;
        }
    }
    return n == out.size();
}

cancelled_journal::cancelled_journal(fs::path path, fsync_policy policy, bool writable,
                                     std::size_t capacity)
    : path_(std::move(path)), policy_(policy), writable_(writable), capacity_(capacity == 0 ? 1 : capacity) {}

std::unique_ptr<cancelled_journal> cancelled_journal::open(const fs::path& path, fsync_policy policy,
                                                           bool writable, std::error_code& ec,
                                                           std::size_t capacity) {
    std::unique_ptr<cancelled_journal> journal(new cancelled_journal(path, policy, writable, capacity));
    ec = guarded([&] { return journal->load(); });
    if (ec) journal.reset();
    return journal;
}

std::error_code cancelled_journal::load() {
    std::error_code ec;
    if (!fs::exists(path_, ec)) return ec;
    std::ifstream in(path_, std::ios::binary);
    if (!in) return std::make_error_code(std::errc::io_error);
    std::string line;
    std::uint64_t offset = 0;
    std::uint64_t complete_end = 0;  // end of the last line that has its newline
    while (std::getline(in, line)) {
        const bool complete = !in.eof();  // getline stopped at a newline, not at the end
        if (!complete) break;             // torn by a crash: never acknowledged
        const entry where{offset, static_cast<std::uint32_t>(line.size())};
        offset += line.size() + 1;
        complete_end = offset;
        cancelled_session record;
        std::string forgotten;
        key k{};
        if (parse_record(line, record) && key_of(record.id, k)) {
            if (index_.erase(k) != 0) ++dead_lines_;  // recorded twice: the newer line counts
            remember(k, where);
        } else if (parse_forget(line, forgotten) && key_of(forgotten, k)) {
            dead_lines_ += index_.erase(k) != 0 ? 2 : 1;
        } else {
            ++dead_lines_;
        }
    }
    if (in.bad()) return std::make_error_code(std::errc::io_error);
    in.close();
    end_ = complete_end;
    if (writable_) {
        const std::uint64_t size = fs::file_size(path_, ec);
        if (ec) return ec;
        if (size != end_) fs::resize_file(path_, end_, ec);  // cut the torn line off
        if (ec) return ec;
    }
    return {};
}

void cancelled_journal::remember(const key& id, const entry& where) {
    index_[id] = where;
    order_.emplace_back(id, where.offset);
    while (index_.size() > capacity_ && !order_.empty()) {
        const auto [oldest, offset] = order_.front();
        order_.pop_front();
        // A stale position (forgotten, or recorded again later) is skipped: only the line that
        // is still the remembered one counts.
        const auto it = index_.find(oldest);
        if (it != index_.end() && it->second.offset == offset) {
            index_.erase(it);
            ++dead_lines_;
        }
    }
}

bool cancelled_journal::contains(std::string_view id) const {
    key k{};
    if (!key_of(id, k)) return false;
    const std::lock_guard<std::mutex> lock(mutex_);
    return index_.count(k) != 0;
}

std::error_code cancelled_journal::read_line(const entry& where, std::string& out) const {
    std::ifstream in(path_, std::ios::binary);
    if (!in) return std::make_error_code(std::errc::io_error);
    in.seekg(static_cast<std::streamoff>(where.offset));
    out.assign(where.length, '\0');
    if (!in.read(out.data(), static_cast<std::streamsize>(out.size()))) {
        return std::make_error_code(std::errc::io_error);
    }
    return {};
}

std::error_code cancelled_journal::find(std::string_view id, cancelled_session& out) const {
    return guarded([&]() -> std::error_code {
        key k{};
        if (!key_of(id, k)) return make_error_code(storage_errc::session_not_found);
        const std::lock_guard<std::mutex> lock(mutex_);
        const auto it = index_.find(k);
        if (it == index_.end()) return make_error_code(storage_errc::session_not_found);
        std::string line;
        if (const auto ec = read_line(it->second, line)) return ec;
        cancelled_session record;
        key found{};
        // A read-only view may race a compaction of the daemon's: then the line moved.
        if (!parse_record(line, record) || !key_of(record.id, found) || found != k) {
            return writable_ ? make_error_code(storage_errc::corrupt_metadata)
                             : make_error_code(storage_errc::session_not_found);
        }
        out = std::move(record);
        return {};
    });
}

std::error_code cancelled_journal::append_line(const std::string& line, std::uint64_t& offset) {
    if (!writable_) return std::make_error_code(std::errc::read_only_file_system);
    std::error_code ec;
    // Opened per line: cancels are rare next to fragments, and a journal replaced by a
    // compaction is then always the one written to.
    platform::file_handle file = platform::open_file(path_, platform::open_mode::append, ec);
    if (ec) return ec;
    const std::string bytes = line + '\n';
    std::size_t written = 0;
    ec = platform::write_all(file, bytes.data(), bytes.size(), written);
    if (!ec && policy_ == fsync_policy::durable) ec = platform::sync_data(file);
    if (!ec) ec = file.close();
    if (ec) {
        // Never leave half a line for the next one to be glued to.
        if (written != 0) {
            std::error_code ignored;
            fs::resize_file(path_, end_, ignored);
        }
        return ec;
    }
    if (end_ == 0 && policy_ == fsync_policy::durable) {
        // The journal's name is new: it lives in its directory.
        if ((ec = platform::sync_directory(path_.parent_path()))) return ec;
    }
    offset = end_;
    end_ += bytes.size();
    return {};
}

std::error_code cancelled_journal::record(const cancelled_session& session) {
    return guarded([&]() -> std::error_code {
        key k{};
        if (!key_of(session.id, k)) return make_error_code(storage_errc::session_not_found);
        cancelled_session canonical = session;
        canonical.id = *normalize_session_id(session.id);
        const std::string line = record_line(canonical);
        const std::lock_guard<std::mutex> lock(mutex_);
        std::uint64_t offset = 0;
        if (const auto ec = append_line(line, offset)) return ec;
        if (index_.erase(k) != 0) ++dead_lines_;
        remember(k, entry{offset, static_cast<std::uint32_t>(line.size())});
        return compact_if_worthwhile();
    });
}

std::error_code cancelled_journal::forget(std::string_view id) {
    return guarded([&]() -> std::error_code {
        key k{};
        if (!key_of(id, k)) return make_error_code(storage_errc::session_not_found);
        const std::lock_guard<std::mutex> lock(mutex_);
        if (index_.count(k) == 0) return make_error_code(storage_errc::session_not_found);
        std::uint64_t offset = 0;
        const std::string line = json{{"forget", *normalize_session_id(id)}}.dump();
        if (const auto ec = append_line(line, offset)) return ec;
        index_.erase(k);
        dead_lines_ += 2;
        return compact_if_worthwhile();
    });
}

std::error_code cancelled_journal::compact_if_worthwhile() {
    if (dead_lines_ < min_dead_lines_to_compact || dead_lines_ <= index_.size()) return {};
    // A failed compaction changes nothing: the journal as it is stays correct.
    (void)compact();
    return {};
}

std::error_code cancelled_journal::compact() {
    const fs::path temp = path_.string() + std::string(data_dir_layout::compaction_suffix);
    std::unordered_map<key, entry, key_hash> index;
    std::deque<std::pair<key, std::uint64_t>> order;
    std::uint64_t end = 0;
    std::error_code ec;
    {
        std::ifstream in(path_, std::ios::binary);
        if (!in) return std::make_error_code(std::errc::io_error);
        platform::file_handle out = platform::open_file(temp, platform::open_mode::create_truncate, ec);
        if (ec) return ec;
        std::string line;
        std::uint64_t offset = 0;
        std::string kept;
        while (std::getline(in, line) && !in.eof()) {
            const std::uint64_t at = offset;
            offset += line.size() + 1;
            cancelled_session record;
            key k{};
            if (!parse_record(line, record) || !key_of(record.id, k)) continue;
            const auto it = index_.find(k);
            if (it == index_.end() || it->second.offset != at) continue;  // forgotten or superseded
            index[k] = entry{end, static_cast<std::uint32_t>(line.size())};
            order.emplace_back(k, end);
            kept.append(line).push_back('\n');
            end += line.size() + 1;
            if (kept.size() >= (1u << 20)) {
                std::size_t written = 0;
                if ((ec = platform::write_all(out, kept.data(), kept.size(), written))) break;
                kept.clear();
            }
        }
        if (!ec && in.bad()) ec = std::make_error_code(std::errc::io_error);
        std::size_t written = 0;
        if (!ec && !kept.empty()) ec = platform::write_all(out, kept.data(), kept.size(), written);
        if (!ec && policy_ == fsync_policy::durable) ec = platform::sync_data(out);
        const std::error_code closed = out.close();
        if (!ec) ec = closed;
    }
    if (!ec) ec = platform::rename_replace(temp, path_);
    if (ec) {
        (void)platform::remove_file(temp);
        return ec;
    }
    if (policy_ == fsync_policy::durable) (void)platform::sync_directory(path_.parent_path());
    index_ = std::move(index);
    order_ = std::move(order);
    end_ = end;
    dead_lines_ = 0;
    return {};
}

std::error_code cancelled_journal::for_each(
    const std::function<void(const cancelled_session&)>& visit) const {
    std::vector<cancelled_session> sessions;
    const std::error_code ec = guarded([&]() -> std::error_code {
        const std::lock_guard<std::mutex> lock(mutex_);
        if (index_.empty()) return {};
        std::ifstream in(path_, std::ios::binary);
        if (!in) return std::make_error_code(std::errc::io_error);
        std::string line;
        std::uint64_t offset = 0;
        while (std::getline(in, line) && !in.eof()) {
            const std::uint64_t at = offset;
            offset += line.size() + 1;
            cancelled_session record;
            key k{};
            if (!parse_record(line, record) || !key_of(record.id, k)) continue;
            const auto it = index_.find(k);
            if (it == index_.end() || it->second.offset != at) continue;
            sessions.push_back(std::move(record));
        }
        return in.bad() ? std::make_error_code(std::errc::io_error) : std::error_code{};
    });
    if (ec) return ec;
    // Outside the lock: a visitor may call back into the store.
    for (const auto& session : sessions) visit(session);
    return {};
}

std::size_t cancelled_journal::size() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return index_.size();
}

}  // namespace bitsd::storage

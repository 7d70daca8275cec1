#include "client/netrc.hpp"

#include <cctype>
#include <vector>

namespace bitsd::client {
namespace {

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

class tokenizer {
public:
    explicit tokenizer(std::string_view text) : text_(text) {}

    std::optional<std::string> next() {
        while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
        if (pos_ >= text_.size()) return std::nullopt;
        std::string token;
        if (text_[pos_] == '"') {
            ++pos_;
            while (pos_ < text_.size() && text_[pos_] != '"') {
                if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
                token += text_[pos_++];
            }
            ++pos_;  // the closing quote (or the end)
            return token;
        }
        while (pos_ < text_.size() && !is_space(text_[pos_])) token += text_[pos_++];
        return token;
    }

    // A macro definition's body ends at the first empty line.
    void skip_macro() {
        const auto end = text_.find("\n\n", pos_);
        pos_ = end == std::string_view::npos ? text_.size() : end + 2;
    }

private:
    std::string_view text_;
    std::size_t pos_ = 0;
};

struct entry {
    bool is_default = false;
    std::string machine;
    std::optional<std::string> login;
    std::optional<std::string> password;
};

std::vector<entry> parse_entries(std::string_view text) {
    std::vector<entry> entries;
    tokenizer tokens(text);
    while (auto token = tokens.next()) {
        if (*token == "machine") {
            entries.emplace_back();
            entries.back().machine = tokens.next().value_or("");
        } else if (*token == "default") {
            entries.emplace_back();
            entries.back().is_default = true;
        } else if (*token == "macdef") {
            tokens.next();  // the macro's name
            tokens.skip_macro();
        } else if (*token == "login" || *token == "password" || *token == "account") {
            auto value = tokens.next();
            if (entries.empty() || !value) continue;  // a value outside any entry: ignored
            if (*token == "login") entries.back().login = std::move(value);
            if (*token == "password") entries.back().password = std::move(value);
        }
        // Anything else is a token we do not know: skipped, as other netrc readers do.
    }
    return entries;
}

}  // namespace

std::optional<credentials> find_netrc_credentials(std::string_view netrc_text,
                                                  std::string_view host) {
    const auto entries = parse_entries(netrc_text);
    const entry* chosen = nullptr;
    for (const auto& e : entries) {
        if (!e.is_default && iequals(e.machine, host)) {
            chosen = &e;
            break;
        }
    }
    if (chosen == nullptr) {
        for (const auto& e : entries) {
            if (e.is_default) {
                chosen = &e;
                break;
            }
        }
    }
    if (chosen == nullptr || !chosen->login) return std::nullopt;
    return credentials{*chosen->login, chosen->password.value_or("")};
}

}  // namespace bitsd::client

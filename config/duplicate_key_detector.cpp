#include "config/duplicate_key_detector.hpp"

namespace bitsd::config {

std::string duplicate_key_detector::child_path() {
    if (stack_.empty()) return {};
    frame& parent = stack_.back();
    if (parent.is_object) {
        return parent.path.empty() ? parent.last_key : parent.path + "." + parent.last_key;
    }
    return parent.path + "[" + std::to_string(parent.next_index++) + "]";
}

bool duplicate_key_detector::operator()(int /*depth*/, nlohmann::json::parse_event_t event,
                                        nlohmann::json& parsed) {
    using event_t = nlohmann::json::parse_event_t;
    switch (event) {
        case event_t::object_start:
        case event_t::array_start: {
            frame next;
            next.is_object = event == event_t::object_start;
            next.path = child_path();
            stack_.push_back(std::move(next));
            break;
        }
        case event_t::object_end:
        case event_t::array_end:
            if (!stack_.empty()) stack_.pop_back();
            break;
        case event_t::key:
            if (!stack_.empty() && parsed.is_string()) {
                frame& object = stack_.back();
                object.last_key = parsed.get<std::string>();
                if (!object.keys.insert(object.last_key).second && !duplicate_) {
                    const std::string quoted = nlohmann::json(object.last_key)
                        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
                    duplicate_ = (object.path.empty() ? "" : object.path + ": ") +
                                 "duplicate key " + quoted;
                }
            }
            break;
        case event_t::value:
            // A scalar element: it takes an index in an array (containers took theirs at start).
            if (!stack_.empty() && !stack_.back().is_object) ++stack_.back().next_index;
            break;
    }
    return true;
}

}  // namespace bitsd::config

#include "server/reply_sender.hpp"

#include <boost/asio/buffer.hpp>

#include <spdlog/spdlog.h>

#include <fstream>
#include <memory>
#include <vector>

namespace bitsd::server {
namespace {

constexpr std::size_t piece_size = 64 * 1024;

class sender : public std::enable_shared_from_this<sender> {
public:
    sender(reply_writer write, reply_plan plan, std::function<void(bool)> done)
        : write_(std::move(write)), plan_(std::move(plan)), done_(std::move(done)) {}

    void start() {
        left_ = plan_.length;
        if (left_ > 0) {
            // Reading the page cache on the I/O thread, as writing a fragment's bytes does.
            file_.open(plan_.file, std::ios::binary);
            if (file_) file_.seekg(static_cast<std::streamoff>(plan_.first));
            if (!file_) {
                spdlog::warn("reply {}: cannot be read", plan_.file);
                return done_(false);
            }
        }
        write_(boost::asio::buffer(plan_.head),
               [self = shared_from_this()](boost::system::error_code ec) { self->on_written(ec); });
    }

private:
    void on_written(boost::system::error_code ec) {
        if (ec) return done_(false);
        if (left_ == 0) return done_(true);
        buffer_.resize(static_cast<std::size_t>(std::min<std::uint64_t>(left_, piece_size)));
        file_.read(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
        if (static_cast<std::size_t>(file_.gcount()) != buffer_.size()) {
            // The reply changed under us (shorter than its head said): the connection closes.
            spdlog::warn("reply {}: shorter than announced", plan_.file);
            return done_(false);
        }
        left_ -= buffer_.size();
        write_(boost::asio::buffer(buffer_),
               [self = shared_from_this()](boost::system::error_code e) { self->on_written(e); });
    }

    reply_writer write_;
    reply_plan plan_;
    std::function<void(bool)> done_;
    std::ifstream file_;
    std::vector<char> buffer_;
    std::uint64_t left_ = 0;
};

}  // namespace

void send_reply(reply_writer write, reply_plan plan, std::function<void(bool)> done) {
    std::make_shared<sender>(std::move(write), std::move(plan), std::move(done))->start();
}

}  // namespace bitsd::server

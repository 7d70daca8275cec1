#include "client/uploader.hpp"

#include "client/client_error.hpp"
#include "client/interrupt.hpp"
#include "client/reply_downloader.hpp"

#include <algorithm>
#include <thread>

#ifndef BITS_UPLOAD_VERSION
#define BITS_UPLOAD_VERSION "0"
#endif

namespace bitsd::client {
namespace {

using std::chrono::seconds;

channel_timeouts timeouts_for(const options& opts) {
    channel_timeouts t;
    t.connect = std::min(t.connect, opts.timeout);
    t.send = std::min(t.send, opts.timeout);
    t.response = opts.timeout;
    return t;
}

std::filesystem::path state_path_for(const options& opts) {
    return opts.state ? std::filesystem::path(*opts.state) : default_state_path(opts.file);
}

}  // namespace

uploader::uploader(options opts, std::optional<std::string> authorization,
                   progress_reporter& progress)
    : opts_(std::move(opts)),
      base_url_(opts_.url),
      progress_(progress),
      authorization_(authorization),
      builder_(std::string("bits-upload/") + BITS_UPLOAD_VERSION, std::move(authorization),
               content_name_for(opts_.file)),
      channel_(timeouts_for(opts_)),
      state_file_(state_path_for(opts_)) {
    policy_.max_retries = opts_.retries;
    policy_.max_delay = opts_.retry_max_delay;
    std::error_code ec;
    auto absolute = std::filesystem::absolute(opts_.file, ec);
    absolute_file_ = (ec ? std::filesystem::path(opts_.file) : absolute).lexically_normal().string();
}

int uploader::run() { return opts_.cancel ? cancel() : upload(); }

http_url uploader::current_url() const {
    return state_.host_override ? with_host(base_url_, *state_.host_override) : base_url_;
}

upload_position uploader::position(std::uint64_t offset, std::uint64_t length) const {
    upload_position at;
    at.offset = offset;
    at.length = length;
    at.file_size = identity_.size;
    at.credentials_sent = authorization_.has_value();
    at.failures = failures_;
    at.restarts = restarts_;
    return at;
}

uploader::step uploader::step_after_offset() const {
    if (state_.offset < identity_.size) return step::fragment;
    return opts_.reply ? step::reply : step::close_session;
}

int uploader::local_error(const std::string& message) {
    progress_.error(message);
    return exit_local_file;
}

int uploader::interrupted_exit() {
    channel_.close();
    std::string message = "interrupted";
    if (state_.session_id) {
        message += "; the state is kept in " + state_file_.path().string() +
                   ": run the same command again to resume";
    }
    progress_.note(message);
    progress_.clear();
    return exit_interrupted;
}

int uploader::save_state() {
    if (const auto ec = state_file_.save(state_)) {
        return local_error("cannot write the state file " + state_file_.path().string() + ": " +
                           ec.message());
    }
    return keep_going;
}

bool uploader::sleep_interruptibly(seconds delay) {
    const auto until = std::chrono::steady_clock::now() + delay;
    while (std::chrono::steady_clock::now() < until) {
        if (interrupted()) return false;
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
            std::chrono::milliseconds(100), until - std::chrono::steady_clock::now()));
    }
    return !interrupted();
}

void uploader::note_host_success() { host_failing_since_.reset(); }

int uploader::open_source() {
    if (const auto ec = source_.open(opts_.file)) {
        return local_error("cannot open " + opts_.file + ": " + ec.message());
    }
    if (const auto ec = source_.identity(identity_)) {
        return local_error("cannot stat " + opts_.file + ": " + ec.message());
    }
    return keep_going;
}

void uploader::cancel_stale_session(const upload_state& stale) {
    if (!stale.session_id) return;
    const auto parsed = parse_url(stale.url);
    if (!parsed.url) return;
    const auto url = stale.host_override ? with_host(*parsed.url, *stale.host_override)
                                         : *parsed.url;
    // Best effort and once: the old session expires on the server anyway. Credentials go only
    // where they were given for.
    const bool same_server = url.host == opts_.url.host && url.port == opts_.url.port;
    const request_builder anonymous(std::string("bits-upload/") + BITS_UPLOAD_VERSION,
                                    std::nullopt, content_name_for(opts_.file));
    const auto& builder = same_server ? builder_ : anonymous;
    response_head response;
    const auto ec = channel_.exchange(url, builder.cancel_session(url, *stale.session_id), nullptr,
                                      response);
    if (!ec && response.status == 200) {
        progress_.note("cancelled the old session " + *stale.session_id);
    }
}

int uploader::load_or_start_state() {
    std::string error;
    auto stored = state_file_.load(error);
    if (!error.empty()) progress_.note("ignoring the state file: " + error);
    const auto url = to_string(opts_.url);
    if (stored) {
        const auto why = state_mismatch(*stored, url, absolute_file_, identity_);
        if (why.empty()) {
            state_ = *stored;
            // A fragment size a 413 taught stays; a smaller one asked for now wins.
            state_.fragment_size = state_.fragment_size == 0
                                       ? opts_.fragment_size
                                       : std::min(state_.fragment_size, opts_.fragment_size);
            if (!state_.session_id) state_.offset = 0;
            best_offset_ = state_.offset;
            return keep_going;
        }
        progress_.note("starting over: the stored upload state does not apply (" + why + ")");
        cancel_stale_session(*stored);
        state_file_.remove();
    }
    state_ = {};
    state_.url = url;
    state_.file = absolute_file_;
    state_.source = identity_;
    state_.fragment_size = opts_.fragment_size;
    if (opts_.reply) {
        std::error_code ignored;
        std::filesystem::remove(reply_downloader::partial_path(*opts_.reply), ignored);
    }
    return keep_going;
}

decision uploader::send(const outgoing_request& request, std::optional<int>& exit) {
    const auto url = current_url();
    const bool has_body = request.body_length > 0;
    http_channel::progress_callback on_progress;
    if (has_body) {
        const auto first = request.body_offset;
        on_progress = [this, first](std::uint64_t sent) { progress_.update(first + sent); };
    }
    response_head response;
    const auto ec =
        channel_.exchange(url, request, has_body ? &source_ : nullptr, response, on_progress);
    const auto at = position(request.body_offset, request.body_length);
    if (ec == client_errc::interrupted) {
        exit = interrupted_exit();
        return {};
    }
    if (ec == client_errc::source_changed) {
        exit = local_error(opts_.file + " changed during the upload (it is shorter now); run "
                           "the command again to upload it anew");
        return {};
    }
    if (ec == client_errc::source_read_failed) {
        exit = local_error("cannot read " + opts_.file);
        return {};
    }
    if (ec) {
        return decide_transport_failure(at, policy_,
                                        std::string(packet_name(request.kind)) + " to " +
                                            to_string(url) + ": " + ec.message());
    }
    return decide(request.kind, at, policy_, response);
}

std::optional<int> uploader::handle_setback(const decision& d, step& next, bool host_failure) {
    switch (d.step) {
    case next_step::retry: {
        ++failures_;
        if (host_failure && state_.host_override) {
            const auto now = std::chrono::steady_clock::now();
            if (!host_failing_since_) host_failing_since_ = now;
            const auto failing_for = std::chrono::duration_cast<seconds>(now - *host_failing_since_);
            if (host_fallback_due(state_.host_fallback_timeout_s, failing_for)) {
                progress_.note("no success on " + *state_.host_override + " for " +
                               std::to_string(failing_for.count()) + " s: going back to " +
                               base_url_.host);
                state_.host_override.reset();
                state_.host_fallback_timeout_s.reset();
                host_failing_since_.reset();
                if (const auto code = save_state(); code != keep_going) return code;
                next = step::ping;
            }
        }
        progress_.note(d.message + "; retrying in " + std::to_string(d.delay.count()) + " s");
        if (!sleep_interruptibly(d.delay)) return interrupted_exit();
        return std::nullopt;
    }
    case next_step::give_up:
        progress_.error(d.message);
        return exit_gave_up;
    case next_step::restart_session: {
        ++restarts_;
        progress_.note(d.message);
        state_.session_id.reset();
        state_.offset = 0;
        state_.reply_url.reset();
        state_.host_override.reset();
        state_.host_fallback_timeout_s.reset();
        best_offset_ = 0;
        host_failing_since_.reset();
        if (const auto code = save_state(); code != keep_going) return code;
        if (opts_.reply) {
            std::error_code ignored;
            std::filesystem::remove(reply_downloader::partial_path(*opts_.reply), ignored);
        }
        progress_.update(0);
        next = step::create_session;
        return std::nullopt;
    }
    case next_step::fail:
        progress_.error(d.message);
        return exit_refused;
    default:
        progress_.error("unexpected answer: " + d.message);
        return exit_refused;
    }
}

int uploader::do_fragment(step& next) {
    const auto offset = state_.offset;
    const auto length = std::min(state_.fragment_size, identity_.size - offset);
    std::optional<int> exit;
    const auto d = send(builder_.fragment(current_url(), *state_.session_id, offset, length,
                                          identity_.size),
                        exit);
    if (exit) return *exit;
    switch (d.step) {
    case next_step::advance:
    case next_step::resync: {
        note_host_success();
        file_identity now;
        if (source_.identity(now) || now != identity_) {
            return local_error(opts_.file + " changed during the upload; run the command again "
                               "to upload it anew");
        }
        if (d.step == next_step::resync) {
            if (d.offset == offset) {
                // The server wants exactly what it was sent: nothing moves. Bounded like any
                // other failure, so a confused server cannot keep us busy forever.
                if (++failures_ > policy_.max_retries) {
                    progress_.error("gave up: the server keeps asking for byte " +
                                    std::to_string(offset) + " without accepting it");
                    return exit_gave_up;
                }
            } else {
                progress_.note("the server has " + std::to_string(d.offset) +
                               " bytes; continuing from there");
            }
        }
        if (d.offset > best_offset_) failures_ = 0;
        best_offset_ = d.offset;
        state_.offset = d.offset;
        if (d.reply_url) state_.reply_url = d.reply_url;
        if (const auto code = save_state(); code != keep_going) return code;
        progress_.acknowledged(state_.offset);
        next = step_after_offset();
        return keep_going;
    }
    case next_step::shrink_fragment:
        note_host_success();
        state_.fragment_size = d.fragment_size;
        progress_.note(d.message);
        return save_state();
    default:
        if (const auto code = handle_setback(d, next)) return *code;
        return keep_going;
    }
}

int uploader::do_reply(step& next) {
    if (!state_.reply_url) {
        progress_.note("the server sent no BITS-Reply-URL: there is no reply to save in " +
                       *opts_.reply);
        next = step::close_session;
        return keep_going;
    }
    // A relative reply URL is relative to the destination as given (the IIS capture fetched it
    // from the origin host, not the Host-Id one).
    const auto reply = resolve_reply_url(base_url_, *state_.reply_url);
    if (!reply.url) {
        progress_.error("cannot download the reply from " + *state_.reply_url + ": " +
                        reply.error);
        return exit_refused;
    }
    reply_downloader downloader(channel_, builder_);
    const auto result = downloader.download(*reply.url, base_url_, *opts_.reply);
    switch (result.outcome) {
    case reply_outcome::saved:
        failures_ = 0;
        progress_.note("saved the reply (" + std::to_string(result.bytes) + " bytes) in " +
                       *opts_.reply);
        next = step::close_session;
        return keep_going;
    case reply_outcome::transient: {
        const auto d = retry_or_give_up(position(), policy_, result.message);
        if (const auto code = handle_setback(d, next, false)) return *code;
        return keep_going;
    }
    case reply_outcome::refused:
        progress_.error(result.message);
        return exit_refused;
    case reply_outcome::local_error:
        return local_error(result.message);
    case reply_outcome::interrupted:
        return interrupted_exit();
    }
    return exit_refused;
}

int uploader::upload() {
    if (const auto code = open_source(); code != keep_going) return code;
    if (const auto code = load_or_start_state(); code != keep_going) return code;
    progress_.start("uploading " + opts_.file + " to " +
                        to_string(opts_.url),
                    identity_.size, state_.offset);

    // A Ping first, always: it sets up the connection (and, with NTLM-style servers, the
    // authentication) on a zero-length request before any body is sent.
    step next = step::ping;
    for (;;) {
        if (interrupted()) return interrupted_exit();
        std::optional<int> exit;
        switch (next) {
        case step::ping: {
            const auto d = send(builder_.ping(current_url()), exit);
            if (exit) return *exit;
            if (d.step == next_step::proceed) {
                note_host_success();
                next = state_.session_id ? step_after_offset() : step::create_session;
            } else if (const auto code = handle_setback(d, next)) {
                return *code;
            }
            break;
        }
        case step::create_session: {
            const auto d = send(builder_.create_session(current_url()), exit);
            if (exit) return *exit;
            if (d.step == next_step::session_created) {
                failures_ = 0;
                state_.session_id = d.session_id;
                state_.offset = 0;
                state_.reply_url.reset();
                best_offset_ = 0;
                if (d.host_id) {
                    state_.host_override = d.host_id;
                    state_.host_fallback_timeout_s = d.host_id_fallback_timeout_s;
                    host_failing_since_.reset();
                    progress_.note("the server asks to continue on host " + *d.host_id);
                }
                if (const auto code = save_state(); code != keep_going) return code;
                // After a Host-Id the new host is pinged first, as Windows does.
                next = d.host_id ? step::ping : step_after_offset();
            } else if (const auto code = handle_setback(d, next)) {
                return *code;
            }
            break;
        }
        case step::fragment:
            if (const auto code = do_fragment(next); code != keep_going) return code;
            break;
        case step::reply:
            if (const auto code = do_reply(next); code != keep_going) return code;
            break;
        case step::close_session: {
            const auto d = send(builder_.close_session(current_url(), *state_.session_id), exit);
            if (exit) return *exit;
            if (d.step == next_step::proceed) {
                channel_.close();
                if (const auto ec = state_file_.remove()) {
                    progress_.note("cannot delete the state file " +
                                   state_file_.path().string() + ": " + ec.message());
                }
                progress_.finish("uploaded " + opts_.file);
                return exit_uploaded;
            }
            if (const auto code = handle_setback(d, next)) return *code;
            break;
        }
        }
    }
}

int uploader::cancel() {
    std::string error;
    const auto stored = state_file_.load(error);
    if (!stored) {
        if (!error.empty()) {
            progress_.error("cannot cancel: " + error);
            return exit_local_file;
        }
        progress_.note("no stored upload of " + opts_.file + " (" + state_file_.path().string() +
                       "): nothing to cancel");
        return exit_uploaded;
    }
    state_ = *stored;
    identity_ = state_.source;
    if (!state_.session_id) {
        state_file_.remove();
        progress_.note("no session was created yet; removed " + state_file_.path().string());
        return exit_uploaded;
    }
    // The session lives where it was created, whatever URL this command names.
    if (const auto parsed = parse_url(state_.url); parsed.url) {
        base_url_ = *parsed.url;
        if (state_.url != to_string(opts_.url)) {
            progress_.note("the stored session is for " + state_.url + "; cancelling it there");
        }
    }
    step next = step::close_session;  // unused: Cancel has no next step
    for (;;) {
        if (interrupted()) return interrupted_exit();
        std::optional<int> exit;
        const auto d = send(builder_.cancel_session(current_url(), *state_.session_id), exit);
        if (exit) return *exit;
        if (d.step == next_step::proceed) {
            channel_.close();
            state_file_.remove();
            if (opts_.reply) {
                std::error_code ignored;
                std::filesystem::remove(reply_downloader::partial_path(*opts_.reply), ignored);
            }
            progress_.note("cancelled the upload session " + *state_.session_id);
            return exit_uploaded;
        }
        if (const auto code = handle_setback(d, next)) return *code;
    }
}

}  // namespace bitsd::client

#pragma once
// One run of bits-upload: the flow of bits-protocol.md §3.1 (Ping, Create-Session, Host-Id,
// fragments, upload-reply, Close-Session) and --cancel. It owns the I/O (the channel, the
// source file, the state file, the output) and asks upload_rules what every answer means.

#include "client/http_channel.hpp"
#include "client/options.hpp"
#include "client/progress_reporter.hpp"
#include "client/request_builder.hpp"
#include "client/source_file.hpp"
#include "client/upload_rules.hpp"
#include "client/upload_state.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace bitsd::client {

class uploader {
public:
    // `authorization` is the Authorization header value to send, if any.
    uploader(options opts, std::optional<std::string> authorization, progress_reporter& progress);

    // The exit code (see exit_code).
    int run();

private:
    enum class step { ping, create_session, fragment, reply, close_session };

    int upload();
    int cancel();
    int open_source();
    int load_or_start_state();
    void cancel_stale_session(const upload_state& stale);
    int save_state();
    int local_error(const std::string& message);
    int interrupted_exit();

    http_url current_url() const;
    upload_position position(std::uint64_t offset = 0, std::uint64_t length = 0) const;
    step step_after_offset() const;

    // One packet: its answer as a decision (network failures included). `exit` is set when the
    // run must end at once (Ctrl-C, the source file failing).
    decision send(const outgoing_request& request, std::optional<int>& exit);
    // retry (sleeps), give_up, fail: the exit code when the run ends, else nullopt.
    // `host_failure`: the failure counts toward the Host-Id fallback (not so for the reply).
    std::optional<int> handle_setback(const decision& d, step& next, bool host_failure = true);
    void note_host_success();
    bool sleep_interruptibly(std::chrono::seconds delay);

    int do_fragment(step& next);
    int do_reply(step& next);

    options opts_;
    http_url base_url_;  // the destination before any Host-Id: the URL given, or the stored one
    progress_reporter& progress_;
    std::optional<std::string> authorization_;
    request_builder builder_;
    http_channel channel_;
    retry_policy policy_;
    state_file state_file_;
    std::string absolute_file_;
    source_file source_;
    file_identity identity_;
    upload_state state_;
    unsigned failures_ = 0;  // consecutive, without progress
    unsigned restarts_ = 0;  // new sessions after SESSION_NOT_FOUND
    std::uint64_t best_offset_ = 0;  // the highest offset the server acknowledged this session
    std::optional<std::chrono::steady_clock::time_point> host_failing_since_;
    static constexpr int keep_going = -1;
};

}  // namespace bitsd::client

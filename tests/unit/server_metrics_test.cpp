// The metrics registry and its Prometheus text: every sample line parses, counters are exact,
// the histogram is cumulative and its count equals the +Inf bucket.

#include "server/metrics.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <regex>
#include <sstream>
#include <string>

using bitsd::server::metrics;
using bitsd::server::request_kind;
using bitsd::server::session_counts;

namespace {

// name{labels} -> value, from the exposition text; fails the test on any line that is neither
// a comment nor a well-formed sample.
std::map<std::string, double> samples_of(const std::string& text) {
    static const std::regex sample_line(
        R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? ([-+]?[0-9.eE+-]+|\+Inf|NaN)$)");
    std::map<std::string, double> out;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
        std::smatch m;
        INFO(line);
        REQUIRE(std::regex_match(line, m, sample_line));
        out[m[1].str() + m[2].str()] = std::stod(m[5].str());
    }
    return out;
}

}  // namespace

TEST_CASE("requests are counted by packet type and exact status", "[server][metrics]") {
    metrics m;
    m.count_request(request_kind::ping, 200);
    m.count_request(request_kind::ping, 200);
    m.count_request(request_kind::fragment, 416);
    m.count_request(request_kind::other, 404);
    CHECK(m.requests(request_kind::ping, 200) == 2);
    CHECK(m.requests(request_kind::fragment, 416) == 1);
    CHECK(m.requests(request_kind::fragment, 200) == 0);

    std::string text;
    m.render(text, {}, "1.2.3");
    const auto samples = samples_of(text);
    CHECK(samples.at("bitsd_requests_total{packet_type=\"Ping\",status=\"200\"}") == 2);
    CHECK(samples.at("bitsd_requests_total{packet_type=\"Fragment\",status=\"416\"}") == 1);
    CHECK(samples.at("bitsd_requests_total{packet_type=\"other\",status=\"404\"}") == 1);
    CHECK(samples.count("bitsd_requests_total{packet_type=\"Fragment\",status=\"200\"}") == 0);
    CHECK(samples.at("bitsd_build_info{version=\"1.2.3\"}") == 1);
}

TEST_CASE("every metric has one HELP and one TYPE line before its samples", "[server][metrics]") {
    metrics m;
    std::string text;
    m.render(text, {}, "0");
    std::istringstream lines(text);
    std::string line, current;
    std::map<std::string, int> types;
    while (std::getline(lines, line)) {
        if (line.rfind("# TYPE ", 0) == 0) {
            std::istringstream words(line.substr(7));
            words >> current;
            ++types[current];
            continue;
        }
        if (line.rfind("#", 0) == 0) continue;
        const auto name = line.substr(0, line.find_first_of("{ "));
        INFO(line);
        CHECK((name == current || name.rfind(current + "_", 0) == 0));
    }
    for (const auto& [name, count] : types) {
        INFO(name);
        CHECK(count == 1);
    }
}

TEST_CASE("the fragment histogram is cumulative and counts every observation", "[server][metrics]") {
    metrics m;
    m.observe_fragment(std::chrono::microseconds(500));   // <= 0.001
    m.observe_fragment(std::chrono::milliseconds(20));    // <= 0.025
    m.observe_fragment(std::chrono::seconds(100));        // +Inf only
    std::string text;
    m.render(text, {}, "0");
    const auto s = samples_of(text);
    CHECK(s.at("bitsd_fragment_duration_seconds_bucket{le=\"0.001\"}") == 1);
    CHECK(s.at("bitsd_fragment_duration_seconds_bucket{le=\"0.01\"}") == 1);
    CHECK(s.at("bitsd_fragment_duration_seconds_bucket{le=\"0.025\"}") == 2);
    CHECK(s.at("bitsd_fragment_duration_seconds_bucket{le=\"30\"}") == 2);
    CHECK(s.at("bitsd_fragment_duration_seconds_bucket{le=\"+Inf\"}") == 3);
    CHECK(s.at("bitsd_fragment_duration_seconds_count") == 3);
    CHECK(s.at("bitsd_fragment_duration_seconds_sum") == Approx(100.0205));
}

TEST_CASE("sessions, bytes and connections are rendered", "[server][metrics]") {
    metrics m;
    m.add_bytes_received(1000);
    m.add_bytes_received(24);
    m.connection_opened();
    m.connection_opened();
    m.connection_closed();
    m.session_created();
    m.session_created();
    m.session_completed();
    m.session_cancelled();
    m.session_expired();
    session_counts counts;
    counts.receiving = 3;
    counts.committing = 1;
    counts.closed = 7;
    std::string text;
    m.render(text, counts, "0");
    const auto s = samples_of(text);
    CHECK(s.at("bitsd_received_bytes_total") == 1024);
    CHECK(s.at("bitsd_connections_open") == 1);
    CHECK(s.at("bitsd_connections_accepted_total") == 2);
    CHECK(s.at("bitsd_sessions_created_total") == 2);
    CHECK(s.at("bitsd_sessions_completed_total") == 1);
    CHECK(s.at("bitsd_sessions_cancelled_total") == 1);
    CHECK(s.at("bitsd_sessions_expired_total") == 1);
    CHECK(s.at("bitsd_sessions{state=\"receiving\"}") == 3);
    CHECK(s.at("bitsd_sessions{state=\"closed\"}") == 7);
    CHECK(s.at("bitsd_sessions_active") == 4);
}

TEST_CASE("label values are escaped", "[server][metrics]") {
    metrics m;
    std::string text;
    m.render(text, {}, "1.0 \"quoted\" \\ back\nslash");
    CHECK(text.find("bitsd_build_info{version=\"1.0 \\\"quoted\\\" \\\\ back\\nslash\"} 1\n") != std::string::npos);
    samples_of(text);
}

TEST_CASE("deliveries: attempts by mode and outcome, dead letters, owed, latency", "[server][metrics][delivery]") {
    using bitsd::server::delivery_mode_label;
    using bitsd::server::delivery_outcome_label;
    metrics m;
    m.delivery_attempted(delivery_mode_label::sync, delivery_outcome_label::delivered, std::chrono::milliseconds(3));
    m.delivery_attempted(delivery_mode_label::async, delivery_outcome_label::failed_transient, std::chrono::seconds(2));
    m.delivery_attempted(delivery_mode_label::async, delivery_outcome_label::failed_transient, std::chrono::seconds(200));
    m.delivery_attempted(delivery_mode_label::async, delivery_outcome_label::delivered, std::chrono::milliseconds(40));
    m.delivery_attempted(delivery_mode_label::sync, delivery_outcome_label::failed_fatal, std::chrono::milliseconds(1));
    m.delivery_dead_lettered();
    session_counts counts;
    counts.deliveries_finalised = 2;
    counts.deliveries_delivering = 1;
    counts.deliveries_dead_lettered = 4;
    std::string text;
    m.render(text, counts, "0");
    const auto s = samples_of(text);
    CHECK(s.at("bitsd_delivery_attempts_total{mode=\"sync\",outcome=\"delivered\"}") == 1);
    CHECK(s.at("bitsd_delivery_attempts_total{mode=\"sync\",outcome=\"failed_fatal\"}") == 1);
    CHECK(s.at("bitsd_delivery_attempts_total{mode=\"sync\",outcome=\"failed_transient\"}") == 0);
    CHECK(s.at("bitsd_delivery_attempts_total{mode=\"async\",outcome=\"failed_transient\"}") == 2);
    CHECK(s.at("bitsd_delivery_attempts_total{mode=\"async\",outcome=\"delivered\"}") == 1);
    CHECK(s.at("bitsd_deliveries_dead_lettered_total") == 1);
    CHECK(s.at("bitsd_deliveries_owed") == 3);
    CHECK(s.at("bitsd_deliveries{state=\"finalised\"}") == 2);
    CHECK(s.at("bitsd_deliveries{state=\"delivering\"}") == 1);
    CHECK(s.at("bitsd_deliveries{state=\"dead_lettered\"}") == 4);
    CHECK(s.at("bitsd_delivery_duration_seconds_bucket{le=\"0.005\"}") == 2);
    CHECK(s.at("bitsd_delivery_duration_seconds_bucket{le=\"120\"}") == 4);
    CHECK(s.at("bitsd_delivery_duration_seconds_bucket{le=\"+Inf\"}") == 5);
    CHECK(s.at("bitsd_delivery_duration_seconds_count") == 5);
    CHECK(s.at("bitsd_delivery_duration_seconds_sum") == Approx(202.044));
}

TEST_CASE("authentication: failures by reason, hashes computed, remembered credentials", "[server][metrics][auth]") {
    using bitsd::server::auth_failure_label;
    metrics m;
    std::string text;
    m.render(text, {}, "1");
    auto samples = samples_of(text);
    // Every reason is there from the start.
    for (const char* reason : {"wrong_password", "unknown_user", "malformed", "rate_limited"}) {
        CAPTURE(reason);
        CHECK(samples.at(std::string("bitsd_auth_failures_total{reason=\"") + reason + "\"}") == 0);
    }
    m.auth_failed(auth_failure_label::wrong_password);
    m.auth_failed(auth_failure_label::wrong_password);
    m.auth_failed(auth_failure_label::rate_limited);
    m.auth_verified();
    m.auth_cache_hit();
    m.auth_cache_hit();
    m.auth_cache_hit();
    text.clear();
    m.render(text, {}, "1");
    samples = samples_of(text);
    CHECK(samples.at("bitsd_auth_failures_total{reason=\"wrong_password\"}") == 2);
    CHECK(samples.at("bitsd_auth_failures_total{reason=\"unknown_user\"}") == 0);
    CHECK(samples.at("bitsd_auth_failures_total{reason=\"rate_limited\"}") == 1);
    CHECK(samples.at("bitsd_auth_verifications_total") == 1);
    CHECK(samples.at("bitsd_auth_cache_hits_total") == 3);
}

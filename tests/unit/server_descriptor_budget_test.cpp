// The connection caps fitted to the open-files limit: lowered with a warning naming the key,
// never below 1, unchanged when they fit.

#include "server/descriptor_budget.hpp"

#include <catch2/catch.hpp>

using bitsd::server::fit_to_file_limit;
using bitsd::server::reserved_descriptors;

TEST_CASE("descriptor budget: caps that fit stay as configured", "[server][descriptor_budget]") {
    const auto budget = fit_to_file_limit(10000, 64, 65536, 4, 4);
    CHECK(budget.max_connections == 10000);
    CHECK(budget.max_admin_connections == 64);
    CHECK(budget.warnings.empty());
}

TEST_CASE("descriptor budget: max_connections is lowered under a shell's 1024, with a warning naming it",
          "[server][descriptor_budget]") {
    const auto budget = fit_to_file_limit(10000, 64, 1024, 2, 2);
    const auto reserved = reserved_descriptors(2, 2);
    CHECK(budget.max_admin_connections == 64);
    CHECK(budget.max_connections == (1024 - reserved - 64) / 2);
    // Two descriptors per connection, the admin cap and the reserve fit under the limit.
    CHECK(2 * budget.max_connections + budget.max_admin_connections + reserved <= 1024);
    REQUIRE(budget.warnings.size() == 1);
    CHECK(budget.warnings[0].rfind("limits.max_connections: 10000 connections need up to ", 0) == 0);
    CHECK(budget.warnings[0].find("open-files limit (RLIMIT_NOFILE) is 1024: using " +
                                  std::to_string(budget.max_connections)) != std::string::npos);
}

TEST_CASE("descriptor budget: an admin cap beyond half of what is left is lowered too; never below 1",
          "[server][descriptor_budget]") {
    const auto reserved = reserved_descriptors(1, 1);
    auto budget = fit_to_file_limit(100, 1000, reserved + 200, 1, 1);
    CHECK(budget.max_admin_connections == 100);
    CHECK(budget.max_connections == 50);
    REQUIRE(budget.warnings.size() == 2);
    CHECK(budget.warnings[0].rfind("limits.max_admin_connections: 1000 ", 0) == 0);
    CHECK(budget.warnings[1].rfind("limits.max_connections: 100 ", 0) == 0);
    budget = fit_to_file_limit(100, 64, 16, 1, 1);  // a limit below the reserve itself
    CHECK(budget.max_connections == 1);
    CHECK(budget.max_admin_connections == 1);
}

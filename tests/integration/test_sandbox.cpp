// The monitor confines itself with seccomp and no_new_privs before the guest runs.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include "background_process.hpp"

namespace {

// The value of a "Name:\tvalue" line of /proc/PID/status.
std::string status_field(pid_t pid, const std::string& name)
{
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind(name + ":", 0) == 0)
            return line.substr(line.find_first_not_of(" \t", name.size() + 1));
    return {};
}

} // namespace

TEST_CASE("a running VM's monitor is under a seccomp filter with no_new_privs", "[sandbox]")
{
    ukrun::test::BackgroundProcess ukrun(ukrun::test::ukrun_command({}, ukrun::test::guest_elf("shutdown")));
    REQUIRE(ukrun.wait_for_output("waiting for a shutdown request"));
#ifdef UKRUN_SANITIZED
    CHECK(status_field(ukrun.pid(), "Seccomp") == "0"); // sanitized builds run without the filter
#else
    CHECK(status_field(ukrun.pid(), "Seccomp") == "2"); // SECCOMP_MODE_FILTER
    CHECK(status_field(ukrun.pid(), "NoNewPrivs") == "1");
#endif
    CHECK(ukrun.stop() == 0); // signals, console and exit all work inside the filter
    CHECK_THAT(ukrun.out(), Catch::Contains("requested, exiting"));
}

TEST_CASE("--no-sandbox leaves the monitor unconfined", "[sandbox]")
{
    ukrun::test::BackgroundProcess ukrun(
        ukrun::test::ukrun_command({"--no-sandbox"}, ukrun::test::guest_elf("shutdown")));
    REQUIRE(ukrun.wait_for_output("waiting for a shutdown request"));
    CHECK(status_field(ukrun.pid(), "Seccomp") == "0");
    CHECK(ukrun.stop() == 0);
}

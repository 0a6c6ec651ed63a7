// SIGTERM/SIGINT: the guest hears a shutdown request through poll; a deaf guest is stopped after the grace period.
#include <catch2/catch.hpp>

#include <signal.h>

#include <string>
#include <vector>

#include "background_process.hpp"

namespace {

struct Stopped {
    int exit_code;
    std::string out;
    std::string err;
    double stop_ms;
};

// Starts ukrun, waits for `ready` on its stdout, sends `signal`, and times the stop.
Stopped stop_with(int signal, const std::string& guest, const std::string& ready, std::vector<std::string> options)
{
    ukrun::test::BackgroundProcess ukrun(ukrun::test::ukrun_command(options, ukrun::test::guest_elf(guest)));
    // The generous timeout only turns a guest that never gets ready into a failure instead of a hang.
    if (!ukrun.wait_for_output(ready, 60000))
        FAIL("no '" << ready << "' on stdout: " << ukrun.out() << "\nstderr: " << ukrun.err());
    const int exit_code = ukrun.stop(signal);
    return {exit_code, ukrun.out(), ukrun.err(), ukrun.stop_ms()};
}

} // namespace

TEST_CASE("SIGTERM asks the guest to shut down and it exits cleanly", "[signals]")
{
    const Stopped s = stop_with(SIGTERM, "shutdown", "waiting for a shutdown request", {});
    INFO("stdout: " << s.out << "\nstderr: " << s.err << "\nstop took " << s.stop_ms << " ms");
    CHECK(s.exit_code == 0);
    CHECK_THAT(s.out, Catch::Contains("shutdown: requested, exiting"));
    CHECK(s.err.empty());
    CHECK(s.stop_ms < 1000); // well inside the default 3 s grace period; Docker's own timeout is 10 s
}

TEST_CASE("SIGINT works like SIGTERM", "[signals]")
{
    const Stopped s = stop_with(SIGINT, "shutdown", "waiting for a shutdown request", {});
    CHECK(s.exit_code == 0);
    CHECK_THAT(s.out, Catch::Contains("requested, exiting"));
}

TEST_CASE("a guest that never polls is stopped after the grace period with 128+signal", "[signals]")
{
    const Stopped s = stop_with(SIGTERM, "spin", "computing without ever polling", {"--shutdown-grace", "200"});
    INFO("stderr: " << s.err << "\nstop took " << s.stop_ms << " ms");
    CHECK(s.exit_code == 128 + SIGTERM);
    CHECK_THAT(s.err, Catch::StartsWith("ukrun: stopped by signal 15") && Catch::Contains("grace period"));
    CHECK(s.stop_ms >= 150);
    CHECK(s.stop_ms < 3000);
}

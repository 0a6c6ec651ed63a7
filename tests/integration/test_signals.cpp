// SIGTERM/SIGINT: the guest hears a shutdown request through poll; a deaf guest is stopped after the grace period.
#include <catch2/catch.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "ukrun_process.hpp"

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
    int out_pipe[2], err_pipe[2];
    REQUIRE(::pipe(out_pipe) == 0);
    REQUIRE(::pipe(err_pipe) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
    std::vector<std::string> argv{UKRUN_BINARY};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back(std::string(GUEST_DIR) + "/" + guest + ".elf");
    std::vector<char*> args;
    for (auto& a : argv)
        args.push_back(a.data());
    args.push_back(nullptr);
    pid_t pid;
    REQUIRE(posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);

    Stopped result{};
    char buf[4096];
    while (result.out.find(ready) == std::string::npos) {
        const ssize_t n = ::read(out_pipe[0], buf, sizeof(buf));
        if (n <= 0)
            break;
        result.out.append(buf, static_cast<std::size_t>(n));
    }
    const auto start = std::chrono::steady_clock::now();
    ::kill(pid, signal);
    int status = 0;
    ::waitpid(pid, &status, 0);
    result.stop_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ssize_t n;
    while ((n = ::read(out_pipe[0], buf, sizeof(buf))) > 0)
        result.out.append(buf, static_cast<std::size_t>(n));
    while ((n = ::read(err_pipe[0], buf, sizeof(buf))) > 0)
        result.err.append(buf, static_cast<std::size_t>(n));
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
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

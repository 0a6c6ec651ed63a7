// Runs the ukrun binary as a child process and captures its output and exit code.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace ukrun::test {

struct ProcessResult {
    int exit_code = -1; // 128 + signal when killed
    std::string out;
    std::string err;
};

// A waitpid status as a shell would report it: 128 + signal when the process was killed.
inline int exit_code_of(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A child started from argv[0] with its stdout and stderr on pipes the caller reads and closes.
struct SpawnedChild {
    pid_t pid = -1;
    int out_fd = -1;
    int err_fd = -1;
};

inline SpawnedChild spawn_with_pipes(const std::vector<std::string>& argv)
{
    int out_pipe[2], err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0)
        throw std::runtime_error("pipe failed");
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
        ::close(out_pipe[0]);
        ::close(out_pipe[1]);
        throw std::runtime_error("pipe failed");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    SpawnedChild child;
    const int rc = posix_spawn(&child.pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    if (rc != 0) {
        ::close(out_pipe[0]);
        ::close(err_pipe[0]);
        throw std::runtime_error("cannot spawn " + argv[0]);
    }
    child.out_fd = out_pipe[0];
    child.err_fd = err_pipe[0];
    return child;
}

inline ProcessResult run_process(const std::vector<std::string>& argv)
{
    const SpawnedChild child = spawn_with_pipes(argv);
    ProcessResult result;
    std::array<pollfd, 2> fds{{{child.out_fd, POLLIN, 0}, {child.err_fd, POLLIN, 0}}};
    int open = 2;
    while (open > 0) {
        if (::poll(fds.data(), fds.size(), -1) < 0)
            continue;
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0)
                continue;
            char buf[4096];
            const ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
            if (n <= 0) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open;
                continue;
            }
            (i == 0 ? result.out : result.err).append(buf, static_cast<std::size_t>(n));
        }
    }
    int status = 0;
    ::waitpid(child.pid, &status, 0);
    result.exit_code = exit_code_of(status);
    return result;
}

// The test guest `name`, as the build puts it in GUEST_DIR.
inline std::string guest_elf(const std::string& name)
{
    return std::string(GUEST_DIR) + "/" + name + ".elf";
}

// The command line `ukrun [options] ELF [args...]`.
inline std::vector<std::string> ukrun_command(const std::vector<std::string>& options, const std::string& elf,
                                              const std::vector<std::string>& args = {})
{
    std::vector<std::string> argv{UKRUN_BINARY};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back(elf);
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

inline ProcessResult run_ukrun(const std::vector<std::string>& options, const std::string& elf,
                               const std::vector<std::string>& args = {})
{
    return run_process(ukrun_command(options, elf, args));
}

} // namespace ukrun::test

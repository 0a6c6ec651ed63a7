// A ukrun process running in the background: wait for a line, check it is alive, stop it with a signal.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "ukrun_process.hpp"

namespace ukrun::test {

class BackgroundProcess {
public:
    explicit BackgroundProcess(const std::vector<std::string>& argv)
    {
        const SpawnedChild child = spawn_with_pipes(argv);
        pid_ = child.pid;
        out_fd_ = child.out_fd;
        err_fd_ = child.err_fd;
    }
    ~BackgroundProcess()
    {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        ::close(out_fd_);
        ::close(err_fd_);
    }
    BackgroundProcess(const BackgroundProcess&) = delete;
    BackgroundProcess& operator=(const BackgroundProcess&) = delete;

    // Reads stdout until it contains `text` or the process ends or `timeout_ms` passes.
    bool wait_for_output(const std::string& text, int timeout_ms = 5000)
    {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        while (out_.find(text) == std::string::npos) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0 || !drain(static_cast<int>(left.count())))
                return false;
        }
        return true;
    }

    bool running()
    {
        if (pid_ <= 0)
            return false;
        int status;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            exit_code_ = exit_code_of(status);
            pid_ = -1;
            return false;
        }
        return true;
    }

    // Sends `signal` and waits for the exit; returns the exit code.
    int stop(int signal = SIGTERM)
    {
        if (running()) {
            const auto start = std::chrono::steady_clock::now();
            ::kill(pid_, signal);
            int status;
            ::waitpid(pid_, &status, 0);
            // Timed here, not around stop(), so reading the leftover output does not count.
            stop_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
            exit_code_ = exit_code_of(status);
            pid_ = -1;
        }
        while (drain(0)) {
        }
        return exit_code_;
    }

    pid_t pid() const { return pid_; }
    // How long the last stop() waited between sending the signal and the exit.
    double stop_ms() const { return stop_ms_; }
    const std::string& out() const { return out_; }
    const std::string& err() const { return err_; }

private:
    // Reads what is available within timeout_ms; false once both pipes are closed or idle.
    bool drain(int timeout_ms)
    {
        pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
        if (::poll(fds, 2, timeout_ms) <= 0)
            return false;
        bool any = false;
        char buf[4096];
        for (int i = 0; i < 2; ++i) {
            if (!(fds[i].revents & (POLLIN | POLLHUP)))
                continue;
            const ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
            if (n > 0) {
                (i == 0 ? out_ : err_).append(buf, static_cast<std::size_t>(n));
                any = true;
            }
        }
        return any;
    }

    pid_t pid_ = -1;
    int out_fd_ = -1, err_fd_ = -1;
    int exit_code_ = -1;
    double stop_ms_ = 0;
    std::string out_, err_;
};

} // namespace ukrun::test

// A throwaway network namespace with a TAP inside, entered by the calling thread and always removed.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "ukrun_process.hpp"

namespace ukrun::test {

// Runs a command (no shell) and throws with its output when it fails.
inline void must_run(const std::vector<std::string>& argv)
{
    const ProcessResult r = run_process(argv);
    if (r.exit_code != 0) {
        std::string line;
        for (const auto& a : argv)
            line += a + " ";
        throw std::runtime_error(line + "failed: " + r.err);
    }
}

// Creates `ukrun-test-<pid>-<n>`, with loopback up. The calling thread enters it, so
// every socket and child process from here on lives in it, and leaves on destruction,
// which also deletes the namespace (taking its TAPs and addresses with it). Traffic
// never reaches the host's own interfaces.
class NetNamespace {
public:
    NetNamespace()
    {
        static int counter = 0;
        name_ = "ukrun-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
        original_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (original_ < 0)
            throw std::runtime_error("cannot open the current network namespace");
        must_run({"/usr/sbin/ip", "netns", "add", name_});
        const std::string path = "/run/netns/" + name_;
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
            if (fd >= 0)
                ::close(fd);
            cleanup();
            throw std::runtime_error("cannot enter network namespace " + name_);
        }
        ::close(fd);
        must_run({"/usr/sbin/ip", "link", "set", "lo", "up"});
    }
    ~NetNamespace() { cleanup(); }
    NetNamespace(const NetNamespace&) = delete;
    NetNamespace& operator=(const NetNamespace&) = delete;

    // A TAP with the host side's address, e.g. add_tap("tap0", "10.0.0.1/24").
    void add_tap(const std::string& tap, const std::string& address, int mtu = 1500)
    {
        must_run({"/usr/sbin/ip", "tuntap", "add", tap, "mode", "tap"});
        must_run({"/usr/sbin/ip", "addr", "add", address, "dev", tap});
        must_run({"/usr/sbin/ip", "link", "set", tap, "mtu", std::to_string(mtu), "up"});
    }

    const std::string& name() const { return name_; }

private:
    void cleanup()
    {
        if (original_ >= 0) {
            ::setns(original_, CLONE_NEWNET);
            ::close(original_);
            original_ = -1;
        }
        if (!name_.empty())
            run_process({"/usr/sbin/ip", "netns", "delete", name_});
        name_.clear();
    }

    std::string name_;
    int original_ = -1;
};

} // namespace ukrun::test

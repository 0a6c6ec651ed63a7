// Signal handlers that only store flags, set immediate_exit and write an eventfd.
#include "shutdown_signal.hpp"

#include <signal.h>
#include <sys/eventfd.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "errors.hpp"

namespace ukrun {

namespace {

std::atomic<int> requested_signal{0};
std::atomic<bool> grace_over{false};
kvm_run* vcpu_run = nullptr;
int event_fd = -1;
uint64_t grace_period_ms = 0;

void kick() noexcept
{
    if (vcpu_run != nullptr)
        __atomic_store_n(&vcpu_run->immediate_exit, 1, __ATOMIC_SEQ_CST);
    const uint64_t one = 1;
    const int saved = errno;
    [[maybe_unused]] const ssize_t n = ::write(event_fd, &one, sizeof(one));
    errno = saved;
}

void on_signal(int signal) noexcept
{
    if (signal == SIGALRM) {
        grace_over.store(true);
    } else {
        int expected = 0;
        if (requested_signal.compare_exchange_strong(expected, signal)) {
            // The grace period starts now; a second signal does not extend it.
            itimerval timer{};
            timer.it_value.tv_sec = static_cast<time_t>(grace_period_ms / 1000);
            timer.it_value.tv_usec = static_cast<suseconds_t>((grace_period_ms % 1000) * 1000);
            if (grace_period_ms == 0)
                grace_over.store(true);
            else
                ::setitimer(ITIMER_REAL, &timer, nullptr);
        } else {
            grace_over.store(true); // asked twice: stop now
        }
    }
    kick();
}

} // namespace

void ShutdownSignal::install(kvm_run* run, uint64_t grace_ms)
{
    vcpu_run = run;
    grace_period_ms = grace_ms;
    if (event_fd < 0) {
        event_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (event_fd < 0)
            throw HostError(fmt::format("eventfd: {}", std::strerror(errno)));
    }
    struct sigaction action{};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    // No SA_RESTART: KVM_RUN and ppoll must return EINTR so the loop sees the request.
    for (int signal : {SIGTERM, SIGINT, SIGALRM})
        if (::sigaction(signal, &action, nullptr) != 0)
            throw HostError(fmt::format("sigaction: {}", std::strerror(errno)));
}

int ShutdownSignal::requested() noexcept
{
    return requested_signal.load();
}

bool ShutdownSignal::grace_expired() noexcept
{
    return grace_over.load();
}

int ShutdownSignal::fd() noexcept
{
    return event_fd;
}

void ShutdownSignal::rearm() noexcept
{
    // Only the run loop's own KVM_RUN needs stopping once; later exits must not keep
    // bouncing. Poll still reports the request through the flag and the eventfd.
    if (vcpu_run != nullptr)
        __atomic_store_n(&vcpu_run->immediate_exit, 0, __ATOMIC_SEQ_CST);
}

} // namespace ukrun

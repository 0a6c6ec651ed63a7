// SIGTERM/SIGINT as a shutdown request: the guest hears it through poll, then gets a grace period.
#pragma once

#include <linux/kvm.h>

#include <cstdint>

namespace ukrun {

// Process-wide: signal dispositions are. Installed once by the VM before the first run.
class ShutdownSignal {
public:
    // Installs handlers for SIGTERM and SIGINT (and SIGALRM for the grace deadline). As PID
    // 1 in a container the kernel ignores signals without a handler, so this is what
    // makes `docker stop` work. `run` is the vCPU's kvm_run: the handler sets its
    // immediate_exit, so a signal arriving just before KVM_RUN still stops the guest.
    static void install(kvm_run* run, uint64_t grace_ms);

    // The signal number that asked for shutdown, or 0.
    static int requested() noexcept;
    // True once the grace period after the request is over: time to stop the guest.
    static bool grace_expired() noexcept;
    // Readable from the request on, for ppoll.
    static int fd() noexcept;
    // Clears kvm_run.immediate_exit after an interrupted KVM_RUN was handled.
    static void rearm() noexcept;
};

} // namespace ukrun

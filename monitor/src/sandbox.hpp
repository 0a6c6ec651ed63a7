// The monitor's own confinement: once the VM is built, only the syscalls the run loop needs.
#pragma once

namespace ukrun {

// Sets no_new_privs and installs a seccomp filter allowing only what serving the guest
// takes: KVM_RUN and register reads on the vCPU, reads and writes on already open fds,
// block I/O, ppoll, clocks, memory management for the heap, signal return and exit.
// Opening files, sockets, exec, ptrace and every other ioctl fail with EPERM, so a guest
// that subverted the monitor still cannot reach the rest of the host. HostError if the
// kernel refuses the filter.
void enter_sandbox();

} // namespace ukrun

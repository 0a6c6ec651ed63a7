// What the monitor may do once the guest runs: the seccomp allow-list, shared by the filter generator.
#pragma once

#include <linux/kvm.h>
#include <seccomp.h>

namespace ukrun::sandbox_policy {

// Syscalls the run loop, its devices and its exit paths make.
inline constexpr int kAllowedSyscalls[] = {
    // Devices and console.
    SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(preadv), SCMP_SYS(pwritev),
    SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(fdatasync), SCMP_SYS(ppoll),
    // Netlink teardown of a container interface at exit, on the socket opened before.
    SCMP_SYS(sendmsg), SCMP_SYS(recvmsg), SCMP_SYS(sendto), SCMP_SYS(recvfrom),
    // Clocks, signals, the grace timer.
    SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(rt_sigreturn), SCMP_SYS(setitimer),
    SCMP_SYS(rt_sigprocmask), SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(tgkill),
    // The heap, stdio and teardown.
    SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(futex),
    SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(close), SCMP_SYS(exit), SCMP_SYS(exit_group),
};

// The only ioctls left: running the vCPU and reading its registers for a diagnosis.
inline constexpr unsigned long kAllowedIoctls[] = {KVM_RUN, KVM_GET_REGS, KVM_GET_SREGS};

} // namespace ukrun::sandbox_policy

// Thin RAII wrappers over the /dev/kvm, VM and vCPU file descriptors.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>

#include "unique_fd.hpp"

namespace ukrun {

class KvmVcpu {
public:
    KvmVcpu(UniqueFd fd, Mapping run);

    // Enters the guest until the next exit; returns false when interrupted by a signal
    // (EINTR) so the caller can check for shutdown.
    bool run();
    kvm_run* run_state() const noexcept { return reinterpret_cast<kvm_run*>(run_.data()); }
    // The whole shared mapping: kvm_run plus the I/O data area behind it.
    std::span<const std::byte> run_area() const noexcept { return {run_.data(), run_.size()}; }

    kvm_regs get_regs() const;
    void set_regs(const kvm_regs& regs) const;
    kvm_sregs get_sregs() const;
    void set_sregs(const kvm_sregs& sregs) const;
    void set_cpuid(std::span<const kvm_cpuid_entry2> entries) const;
    uint32_t tsc_khz() const;
    int fd() const noexcept { return fd_.get(); }

private:
    UniqueFd fd_;
    Mapping run_;
};

class KvmVm {
public:
    explicit KvmVm(UniqueFd fd, int vcpu_mmap_size) : fd_(std::move(fd)), vcpu_mmap_size_(vcpu_mmap_size) {}

    void set_memory(uint32_t slot, uint64_t guest_addr, std::byte* host, uint64_t size, bool readonly = false) const;
    KvmVcpu create_vcpu(unsigned id) const;
    int fd() const noexcept { return fd_.get(); }

private:
    UniqueFd fd_;
    int vcpu_mmap_size_;
};

class Kvm {
public:
    // Opens /dev/kvm; HostError with a remedy when it is missing or inaccessible.
    static Kvm open(const char* path = "/dev/kvm");
    KvmVm create_vm() const;

private:
    explicit Kvm(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

} // namespace ukrun

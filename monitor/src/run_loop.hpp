// The vCPU run loop: exits in, hypercalls, device work and diagnoses out.
#pragma once

#include <span>
#include <string>

#include "boot_trace.hpp"
#include "device_set.hpp"
#include "guest_layout.hpp"
#include "guest_memory.hpp"
#include "kvm.hpp"
#include "vm.hpp"
#include "vm_config.hpp"

namespace ukrun {

struct RunResult {
    VmOutcome outcome;
    std::string stats; // exits by kind, hypercalls, notifications, per-device requests
};

// Runs the guest until it exits, aborts, faults, breaks the ABI or is stopped by a signal.
// `image` is the ELF, for naming the function a fault happened in.
RunResult run_vcpu(KvmVcpu& vcpu, const GuestMemory& memory, const GuestLayout& layout,
                   std::span<const std::byte> image, DeviceSet& devices, const VmConfig& config, BootTrace& trace);

} // namespace ukrun

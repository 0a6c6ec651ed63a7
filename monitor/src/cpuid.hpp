// The curated CPUID the guest sees: host basics, no virtualization features, TSC frequency.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace ukrun {

struct CpuidRegs {
    uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};
using CpuidSource = std::function<CpuidRegs(uint32_t leaf, uint32_t subleaf)>;

// Reads the host's CPUID instruction (cheap: no KVM_GET_SUPPORTED_CPUID round trip).
CpuidRegs host_cpuid(uint32_t leaf, uint32_t subleaf);

// Builds the guest's CPUID table from `source` by allow-listing features: long mode, NX,
// SSE..SSE4.2 and a few integer extensions stay; VMX/SVM, XSAVE/AVX, APIC timers,
// MONITOR and anything the guest has no state for are hidden. The hypervisor bit is set
// and leaves 0x40000000/0x40000010 name ukrun and give the TSC frequency in kHz.
std::vector<kvm_cpuid_entry2> curated_cpuid(const CpuidSource& source, uint32_t tsc_khz);

} // namespace ukrun

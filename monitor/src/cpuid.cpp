// Curated guest CPUID built from the host's CPUID instruction.
#include "cpuid.hpp"

#include <cpuid.h>

#include <algorithm>
#include <cstring>

namespace ukrun {

namespace {

constexpr uint32_t bit(unsigned n) { return 1u << n; }

// Leaf 1: SSE3, PCLMULQDQ, SSSE3, CX16, SSE4.1, SSE4.2, MOVBE, POPCNT, AES, RDRAND.
constexpr uint32_t kLeaf1Ecx = bit(0) | bit(1) | bit(9) | bit(13) | bit(19) | bit(20) | bit(22) | bit(23) |
                               bit(25) | bit(30);
// Leaf 1: FPU, TSC, MSR-less basics: FPU, DE, PSE, TSC, PAE, CX8, CMOV, PAT, CLFSH, MMX, FXSR, SSE, SSE2.
constexpr uint32_t kLeaf1Edx = bit(0) | bit(2) | bit(3) | bit(4) | bit(6) | bit(8) | bit(15) | bit(16) |
                               bit(19) | bit(23) | bit(24) | bit(25) | bit(26);
constexpr uint32_t kLeaf1EcxHypervisor = bit(31);
// Leaf 7.0 EBX: BMI1, BMI2, ERMS, ADX, CLFLUSHOPT, SHA.
constexpr uint32_t kLeaf7Ebx = bit(3) | bit(8) | bit(9) | bit(19) | bit(23) | bit(29);
// Leaf 0x80000001 ECX: LAHF/SAHF, LZCNT, PREFETCHW. EDX: NX, RDTSCP, LM.
constexpr uint32_t kExtEcx = bit(0) | bit(5) | bit(8);
constexpr uint32_t kExtEdx = bit(20) | bit(27) | bit(29);
// Leaf 0x80000007 EDX: invariant TSC.
constexpr uint32_t kPowerEdx = bit(8);

kvm_cpuid_entry2 entry(uint32_t function, uint32_t index, const CpuidRegs& r, bool indexed = false)
{
    kvm_cpuid_entry2 e{};
    e.function = function;
    e.index = index;
    e.flags = indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
    e.eax = r.eax;
    e.ebx = r.ebx;
    e.ecx = r.ecx;
    e.edx = r.edx;
    return e;
}

} // namespace

CpuidRegs host_cpuid(uint32_t leaf, uint32_t subleaf)
{
    CpuidRegs r;
    __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
    return r;
}

std::vector<kvm_cpuid_entry2> curated_cpuid(const CpuidSource& source, uint32_t tsc_khz)
{
    std::vector<kvm_cpuid_entry2> out;
    CpuidRegs vendor = source(0, 0);
    const uint32_t max_basic = std::min<uint32_t>(vendor.eax, 7);
    vendor.eax = max_basic;
    out.push_back(entry(0, 0, vendor));

    CpuidRegs features = source(1, 0);
    features.ebx &= 0x0000ffff; // brand index and CLFLUSH size; one logical CPU, APIC id 0
    features.ebx |= 1u << 16;
    features.ecx = (features.ecx & kLeaf1Ecx) | kLeaf1EcxHypervisor;
    features.edx &= kLeaf1Edx;
    out.push_back(entry(1, 0, features));

    // Leaves 2..6 (caches, power management) describe nothing the guest can use; empty
    // entries keep KVM from answering them with the highest basic leaf.
    for (uint32_t leaf = 2; leaf < max_basic; ++leaf)
        out.push_back(entry(leaf, 0, CpuidRegs{}, leaf == 4));
    if (max_basic >= 7) {
        CpuidRegs extended = source(7, 0);
        extended.eax = 0;
        extended.ebx &= kLeaf7Ebx;
        extended.ecx = 0;
        extended.edx = 0;
        out.push_back(entry(7, 0, extended, true));
    }

    // Hypervisor leaves: vendor "ukrunukrunuk" and the TSC frequency (kHz) at 0x40000010.
    CpuidRegs hypervisor{.eax = 0x40000010};
    std::memcpy(&hypervisor.ebx, "ukru", 4);
    std::memcpy(&hypervisor.ecx, "nukr", 4);
    std::memcpy(&hypervisor.edx, "unuk", 4);
    out.push_back(entry(0x40000000, 0, hypervisor));
    out.push_back(entry(0x40000010, 0, CpuidRegs{.eax = tsc_khz}));

    CpuidRegs ext_max = source(0x80000000, 0);
    const uint32_t max_ext = std::min<uint32_t>(ext_max.eax, 0x80000008);
    ext_max.eax = max_ext;
    out.push_back(entry(0x80000000, 0, ext_max));
    for (uint32_t leaf = 0x80000001; leaf <= max_ext; ++leaf) {
        CpuidRegs r = source(leaf, 0);
        switch (leaf) {
        case 0x80000001:
            r.eax = 0; r.ebx = 0;
            r.ecx &= kExtEcx;
            r.edx &= kExtEdx;
            break;
        case 0x80000002: case 0x80000003: case 0x80000004: // brand string
            break;
        case 0x80000007:
            r = CpuidRegs{.edx = r.edx & kPowerEdx};
            break;
        case 0x80000008: // address sizes
            r = CpuidRegs{.eax = r.eax & 0xffff};
            break;
        default:
            r = CpuidRegs{};
        }
        out.push_back(entry(leaf, 0, r));
    }
    return out;
}

} // namespace ukrun

// Tests of CPUID curation: virtualization features hidden, hypervisor leaves present.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>

#include "cpuid.hpp"

using namespace ukrun;

namespace {
CpuidRegs everything(uint32_t leaf, uint32_t)
{
    if (leaf == 0)
        return {0x20, 0x68747541, 0x444d4163, 0x69746e65};
    if (leaf == 0x80000000)
        return {0x80000020, 0, 0, 0};
    return {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff};
}
const kvm_cpuid_entry2& find(const std::vector<kvm_cpuid_entry2>& entries, uint32_t function)
{
    auto it = std::find_if(entries.begin(), entries.end(), [&](const auto& e) { return e.function == function; });
    REQUIRE(it != entries.end());
    return *it;
}
} // namespace

TEST_CASE("curated CPUID hides virtualization and XSAVE features", "[cpuid]")
{
    const auto entries = curated_cpuid(everything, 2'650'000);
    const auto& leaf1 = find(entries, 1);
    CHECK((leaf1.ecx & (1u << 5)) == 0);  // VMX
    CHECK((leaf1.ecx & (1u << 26)) == 0); // XSAVE
    CHECK((leaf1.ecx & (1u << 28)) == 0); // AVX
    CHECK((leaf1.ecx & (1u << 31)) != 0); // hypervisor present
    CHECK((leaf1.edx & (1u << 25)) != 0); // SSE stays
    const auto& ext = find(entries, 0x80000001);
    CHECK((ext.ecx & (1u << 2)) == 0);  // SVM
    CHECK((ext.edx & (1u << 20)) != 0); // NX
    CHECK((ext.edx & (1u << 29)) != 0); // long mode
    CHECK(find(entries, 0).eax == 7);
    CHECK(find(entries, 0x80000000).eax == 0x80000008);
    const auto& hv = find(entries, 0x40000000);
    char vendor[13] = {};
    std::memcpy(vendor, &hv.ebx, 4);
    std::memcpy(vendor + 4, &hv.ecx, 4);
    std::memcpy(vendor + 8, &hv.edx, 4);
    CHECK(std::string(vendor) == "ukrunukrunuk");
    CHECK(find(entries, 0x40000010).eax == 2'650'000);
    CHECK(find(entries, 7).ebx == ((1u << 3) | (1u << 8) | (1u << 9) | (1u << 19) | (1u << 23) | (1u << 29)));
}

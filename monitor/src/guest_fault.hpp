// Diagnosis of a CPU exception the unikernel took, as reported by the monitor's stubs.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "guest_layout.hpp"
#include "guest_memory.hpp"

namespace ukrun {

struct GuestFault {
    unsigned vector = 0;
    std::optional<uint64_t> error_code;
    uint64_t rip = 0;
    uint64_t rsp = 0;
    uint64_t rflags = 0;
    uint16_t cs = 0;
    uint64_t cr2 = 0;
};

// Reads the exception frame the CPU pushed on the fault stack. `regs` are the vCPU's
// registers at the stub's `out` (vector in %eax, %rsp at the frame).
GuestFault read_guest_fault(const GuestMemory& memory, const kvm_regs& regs, const kvm_sregs& sregs);

// Names an address for the report, e.g. "main+0x1c"; empty when unknown.
using Symbolizer = std::function<std::string(uint64_t address)>;

// One line: vector, mnemonic and name, what went wrong in the unikernel's terms (null
// dereference, W^X violation, stack overflow, ...), error code, RIP with symbol, CR2.
std::string describe_guest_fault(const GuestFault& fault, const GuestLayout& layout, const Symbolizer& symbolize);

} // namespace ukrun
